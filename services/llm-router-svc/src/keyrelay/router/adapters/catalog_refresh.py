"""Keeps OpenRouter-routed models' prices and context windows current (SPEC §5): fetches
OpenRouter's public model list now and then and merges it into the catalog. When OpenRouter
cannot be reached the packaged catalog stays in force."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from keyrelay.router.gateway import Gateway

log = logging.getLogger(__name__)


async def refresh_once(gateway: Gateway, session: aiohttp.ClientSession, base_url: str) -> bool:
    try:
        async with session.get(
            f"{base_url.rstrip('/')}/models", timeout=aiohttp.ClientTimeout(total=10), allow_redirects=False
        ) as reply:
            if reply.status != 200:
                log.info("OpenRouter model list answered %s; catalog unchanged", reply.status)
                return False
            payload = await reply.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.info("OpenRouter model list unreachable (%s); catalog unchanged", type(exc).__name__)
        return False
    gateway.catalog = gateway.catalog.merge_openrouter(payload)
    return True


async def keep_fresh(
    gateway: Gateway, session: aiohttp.ClientSession, base_url: str, every: float = 3600
) -> None:
    while True:
        await refresh_once(gateway, session, base_url)
        await asyncio.sleep(every)
