"""The same upstream call made from a plain event loop, and from inside a gRPC aio handler.

    .venv/bin/python bench/grpc_handler_upstream.py [--calls 3000]

An aiohttp POST to the instant fake provider, timed around the call: first by this process
on its own loop, then by a bare gRPC aio server (mTLS, as keyrelay's services run) inside its
Complete handler while this process waits on the RPC. The difference is what the gRPC aio
runtime adds to every upstream call llm-router-svc makes at concurrency 1 (the floor of
bench/gateway_overhead.py pays it too). Prints both p50s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gateway_floor import serve_router  # noqa: E402
from keyrelay.common.rpc import secure_channel  # noqa: E402
from keyrelay.common.tls import ensure_certificates  # noqa: E402
from keyrelay.launcher.process import ManagedProcess  # noqa: E402
from keyrelay.v1 import router_pb2, router_pb2_grpc  # noqa: E402
from tests.e2e.harness import free_port_block, serving  # noqa: E402
from tests.e2e.providers import running_fakes  # noqa: E402

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello in five words."}]}
HEADERS = {"Authorization": "Bearer sk-" + "0" * 48}


async def timed_post(http: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with http.post(url, json=BODY, headers=HEADERS) as r:
        await r.read()
    return (time.perf_counter() - started) * 1000


def serve(tls_dir: Path, port: int, url: str) -> None:
    """The server: Complete times one upstream call and returns it (ms) as the content."""

    class Timing(router_pb2_grpc.RouterServicer):
        def __init__(self, http: aiohttp.ClientSession) -> None:
            self.http = http

        async def Complete(self, request: Any, context: Any) -> Any:
            return router_pb2.CompleteResponse(content=repr(await timed_post(self.http, url)))

    serve_router(Timing, tls_dir, port)


async def measure(calls: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="keyrelay-bench-"))
    tls_dir = workdir / "tls"
    ensure_certificates(tls_dir, ["router", "portal"])
    port = free_port_block(1, 28000, 30000)
    try:
        await run(calls, tls_dir, port, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def run(calls: int, tls_dir: Path, port: int, workdir: Path) -> None:
    with running_fakes() as fakes:
        url = f"{fakes.url('openai')}/chat/completions"
        argv = [sys.executable, __file__, "--serve", str(tls_dir), str(port), url]
        with serving(ManagedProcess("handler-server", argv, workdir / "server.log"), port):
            async with aiohttp.ClientSession() as http:
                for _ in range(300):
                    await timed_post(http, url)
                plain = [await timed_post(http, url) for _ in range(calls)]
            async with secure_channel(f"127.0.0.1:{port}", tls_dir, "portal") as channel:
                stub = router_pb2_grpc.RouterStub(channel)
                inside = []
                for n in range(300 + calls):
                    reply = await stub.Complete(router_pb2.CompleteRequest(), timeout=10)
                    if n >= 300:
                        inside.append(float(reply.content))
    print(f"upstream call from a plain event loop      p50 {statistics.median(plain):6.3f} ms")
    print(f"upstream call inside a gRPC aio handler    p50 {statistics.median(inside):6.3f} ms")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--calls", type=int, default=3000)
        uvloop.run(measure(parser.parse_args().calls))
