"""llm-router-svc entrypoint: settings, clients and the gRPC server are built here.

Clients: one aiohttp session shared by every provider adapter, the keyvault-svc channel
(ResolveKey), the Postgres engine (settings, budgets, rate limits, ledger), NATS (usage
events, key invalidations, the ledger consumer).
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial

import aiohttp

from keyrelay.common.db import check_database, create_asyncpg_pool, create_engine
from keyrelay.common.lifecycle import run
from keyrelay.common.logging import configure_logging
from keyrelay.common.nats_helpers import EventPublisher, connect, drain
from keyrelay.common.rpc import secure_channel
from keyrelay.common.service import run_grpc_service
from keyrelay.router.adapters.catalog_refresh import keep_fresh
from keyrelay.router.adapters.grpc_api import ALLOW, SERVICE_NAME, RouterService
from keyrelay.router.adapters.keys import KeyResolver
from keyrelay.router.adapters.ledger import run_ledger
from keyrelay.router.adapters.providers.base import ProviderAdapter
from keyrelay.router.adapters.providers.registry import DEFAULT_BASE_URLS, build_adapter
from keyrelay.router.adapters.store import RouterStore
from keyrelay.router.config import RouterSettings
from keyrelay.router.domain.catalog import ModelCatalog
from keyrelay.router.domain.health import HealthBook
from keyrelay.router.gateway import Gateway
from keyrelay.v1 import keyvault_pb2_grpc, router_pb2_grpc


def build_adapters(
    providers: tuple[str, ...], session: aiohttp.ClientSession, settings: RouterSettings
) -> dict[str, ProviderAdapter]:
    """One adapter per catalog provider, at its default base URL unless overridden."""
    overrides = settings.provider_base_urls()
    adapters = {}
    for name in providers:
        if name not in DEFAULT_BASE_URLS:
            continue
        protocol, default_url = DEFAULT_BASE_URLS[name]
        adapters[name] = build_adapter(
            name, protocol, overrides.get(name, default_url), session, **settings.router_timeouts()
        )
    return adapters


async def serve(settings: RouterSettings) -> None:
    # Budget, rate-limit and ledger writes are on every call's path: no per-checkout ping, and
    # commits do not wait for the WAL flush (see docs/decisions.md: atomicity is kept, a
    # Postgres crash may forget the last few hundred milliseconds of spend).
    hot = {"synchronous_commit": "off"}
    engine = create_engine(settings.database_url, pool_size=5, server_settings=hot)
    pool = await create_asyncpg_pool(
        settings.database_url, size=settings.router_db_pool_size, server_settings=hot
    )
    store = RouterStore(engine, pool)
    await store.create_schema()
    catalog = ModelCatalog.load()
    connector = aiohttp.TCPConnector(limit=settings.router_http_pool_size, ttl_dns_cache=300)
    session = aiohttp.ClientSession(connector=connector)
    adapters = build_adapters(tuple(catalog.providers()), session, settings)
    keyvault_channel = secure_channel(settings.keyvault_addr, settings.tls_path, "router")
    keys = KeyResolver(
        keyvault_pb2_grpc.KeyVaultStub(keyvault_channel), ttl=settings.router_key_cache_ttl_seconds
    )
    publisher = EventPublisher(
        partial(connect, settings.nats_url, "llm-router-svc"),
        settings.spool_dir("router"),
        submit_window=settings.router_usage_batch_window_ms / 1000,
    )
    await publisher.start()
    health = HealthBook(settings.router_breaker_threshold, settings.router_breaker_cooldown_seconds)
    gateway = Gateway(catalog, store, keys, adapters, health, publisher)
    control: dict[str, object] = {}

    async def background() -> None:
        nc = await connect(settings.nats_url, "llm-router-svc-control")
        control["nc"] = nc
        await keys.listen(nc)
        await run_ledger(nc, store)

    openrouter = settings.provider_base_urls().get("openrouter", DEFAULT_BASE_URLS["openrouter"][1])
    task = asyncio.create_task(background())
    refresh = asyncio.create_task(keep_fresh(gateway, session, openrouter))

    async def shutdown() -> None:
        for background_task in (task, refresh):
            background_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await background_task
        await gateway.drain()
        await publisher.close()
        await drain(control.get("nc"))  # type: ignore[arg-type]
        await session.close()
        await keyvault_channel.close()
        await pool.close()
        await engine.dispose()

    await run_grpc_service(
        settings,
        identity="router",
        listen=settings.router_listen,
        allow=ALLOW,
        service_name=SERVICE_NAME,
        register=lambda server: router_pb2_grpc.add_RouterServicer_to_server(RouterService(gateway), server),
        checks={"database": partial(check_database, engine)},
        on_shutdown=[shutdown],
    )


def main() -> None:
    settings = RouterSettings()
    configure_logging("router", settings.log_level, settings.log_json)
    run(serve(settings))


if __name__ == "__main__":
    main()
