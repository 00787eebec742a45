"""The OpenRouter refresh reads OpenRouter's documented model list, and leaves the catalog
alone when OpenRouter cannot be reached."""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp

from keyrelay.common.testing.fake_providers import FakeProviders
from keyrelay.router.adapters.catalog_refresh import refresh_once
from keyrelay.router.domain.catalog import ModelCatalog


async def test_refresh_merges_openrouter_models_and_survives_an_outage() -> None:
    packaged = ModelCatalog.load()
    gateway = SimpleNamespace(catalog=packaged)
    async with FakeProviders() as fake, aiohttp.ClientSession() as session:
        assert await refresh_once(gateway, session, fake.url("openrouter"))  # type: ignore[arg-type]
        refreshed = gateway.catalog
        assert refreshed is not packaged and len(refreshed) == len(packaged)
        assert await refresh_once(gateway, session, "http://127.0.0.1:9") is False  # type: ignore[arg-type]
        assert gateway.catalog is refreshed
