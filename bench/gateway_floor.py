"""The gateway's architecture with none of keyrelay's work in it, as the calibration line of
bench/gateway_overhead.py: what Python can do on this machine for an HTTP edge that calls a
second service over mutual-TLS gRPC, which calls the upstream over HTTP.

- the edge: FastAPI on uvicorn (httptools, uvloop), one route `POST /v1/chat/completions`
  that reads the OpenAI body, makes a CompleteRequest and answers OpenAI JSON;
- the server: a grpc aio server (mTLS, client certificate required) whose Complete posts the
  messages to the upstream with aiohttp and returns the reply's text.

No authentication, key lookup, routing, cost, budget, ledger, event, interceptor, metric or
log: everything keyrelay adds is absent, so the full path can only be slower than this.

    python bench/gateway_floor.py server TLS_DIR PORT UPSTREAM_BASE
    python bench/gateway_floor.py edge TLS_DIR PORT SERVER_PORT
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi import Request  # noqa: E402 - at module level: FastAPI resolves the route's annotations here

from keyrelay.common.tls import ensure_certificates  # noqa: E402
from keyrelay.launcher.process import ManagedProcess  # noqa: E402
from tests.e2e.harness import free_port_block, serving  # noqa: E402

TENANT = (("x-keyrelay-tenant", "bench"),)


def serve_router(servicer: Callable[[Any], Any], tls_dir: Path, port: int) -> None:
    """Run a bare gRPC aio server (mTLS, client certificate required) with the Router
    servicer `servicer(http)` builds around one shared aiohttp session, until killed."""
    import aiohttp
    import grpc
    import uvloop

    from keyrelay.common.rpc import server_credentials
    from keyrelay.v1 import router_pb2_grpc

    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            server = grpc.aio.server()
            router_pb2_grpc.add_RouterServicer_to_server(servicer(http), server)
            server.add_secure_port(f"127.0.0.1:{port}", server_credentials(tls_dir, "router"))
            await server.start()
            await server.wait_for_termination()

    uvloop.run(main())


def serve(tls_dir: Path, port: int, upstream: str) -> None:
    from keyrelay.v1 import router_pb2, router_pb2_grpc

    class Router(router_pb2_grpc.RouterServicer):
        def __init__(self, http: Any) -> None:
            self.http = http

        async def Complete(self, request: Any, context: Any) -> Any:
            body = {
                "model": request.model.removeprefix("openai/"),
                "messages": [{"role": m.role, "content": m.content} for m in request.messages],
                "max_tokens": request.max_tokens,
            }
            headers = {"Authorization": "Bearer sk-floor"}
            async with self.http.post(f"{upstream}/chat/completions", json=body, headers=headers) as r:
                reply = await r.json()
            return router_pb2.CompleteResponse(content=reply["choices"][0]["message"]["content"])

    serve_router(Router, tls_dir, port)


def edge(tls_dir: Path, port: int, server_port: int) -> None:
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from keyrelay.common.rpc import secure_channel
    from keyrelay.v1 import router_pb2, router_pb2_grpc

    app = FastAPI()
    stubs: list[router_pb2_grpc.RouterStub] = []

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        if not stubs:  # the channel must be made on the server's event loop
            stubs.append(
                router_pb2_grpc.RouterStub(secure_channel(f"127.0.0.1:{server_port}", tls_dir, "portal"))
            )
        messages = [router_pb2.ChatMessage(role=m["role"], content=m["content"]) for m in body["messages"]]
        call = router_pb2.CompleteRequest(
            tenant_id="bench", model=body["model"], messages=messages, max_tokens=body.get("max_tokens", 0)
        )
        reply = await stubs[0].Complete(call, metadata=TENANT, timeout=10)
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": reply.content},
            "finish_reason": "stop",
        }
        return JSONResponse({"object": "chat.completion", "model": body["model"], "choices": [choice]})

    uvicorn.run(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, loop="uvloop", http="httptools"
    )


@contextlib.contextmanager
def running(upstream_base: str, workdir: Path) -> Iterator[str]:
    """The floor's server and edge in front of `upstream_base`; yields the edge's base URL."""
    tls_dir = workdir / "tls"
    ensure_certificates(tls_dir, ["router", "portal"])
    server_port = free_port_block(2, 28000, 30000)
    edge_port = server_port + 1
    script = str(Path(__file__).resolve())
    server = ManagedProcess(
        "floor-server",
        [sys.executable, script, "server", str(tls_dir), str(server_port), upstream_base],
        workdir / "server.log",
    )
    front = ManagedProcess(
        "floor-edge",
        [sys.executable, script, "edge", str(tls_dir), str(edge_port), str(server_port)],
        workdir / "edge.log",
    )
    with serving(server, server_port), serving(front, edge_port):
        yield f"http://127.0.0.1:{edge_port}"


if __name__ == "__main__":
    role, tls, listen, target = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if role == "server":
        serve(tls, listen, target)
    else:
        edge(tls, listen, int(target))
