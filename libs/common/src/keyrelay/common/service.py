"""The shape every gRPC service's main shares: build the server, serve until SIGTERM,
report health from dependency checks, stop gracefully, then close what the service opened."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping

import grpc

from keyrelay.common.lifecycle import Check, health_loop, wait_for_shutdown
from keyrelay.common.rpc import OnDenied, build_server
from keyrelay.common.settings import KeyrelaySettings


async def run_grpc_service(
    settings: KeyrelaySettings,
    *,
    identity: str,
    listen: str,
    allow: Mapping[str, Iterable[str]],
    service_name: str,
    register: Callable[[grpc.aio.Server], None],
    checks: dict[str, Check],
    on_shutdown: Iterable[Callable[[], Awaitable[None]]] = (),
    on_denied: OnDenied | None = None,
) -> None:
    server, health, _ = build_server(
        tls_dir=settings.tls_path,
        identity=identity,
        address=listen,
        allow=allow,
        service_names=[service_name],
        register=register,
        on_denied=on_denied,
    )
    await server.start()
    monitor = asyncio.create_task(health_loop(health, [service_name], checks))
    try:
        await wait_for_shutdown()
    finally:
        monitor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await monitor
        await server.stop(grace=5)
        for close in on_shutdown:
            await close()
