"""The portal application: built by `create_app(settings)`; clients live in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyrelay.common.context import REQUEST_ID_HEADER, new_request_id, request_id_var
from keyrelay.common.http_errors import install_error_handlers
from keyrelay.portal.adapters.audit_log import AuditProjector
from keyrelay.portal.adapters.clients import Clients
from keyrelay.portal.adapters.metrics import install_metrics
from keyrelay.portal.config import PortalSettings
from keyrelay.portal.routes import admin, audit, keys, models, openai, operations, rag, tenant

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_SECURITY_RAW = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
_REQUEST_ID_RAW = REQUEST_ID_HEADER.lower().encode()
_OURS = frozenset([_REQUEST_ID_RAW, *(k for k, _ in _SECURITY_RAW)])


class RequestContext:
    """Request id (taken from X-Request-ID or new) for logs, gRPC metadata and events, echoed
    on the response with the security headers. Plain ASGI: Starlette's BaseHTTPMiddleware
    runs the app in another task and costs measurably more per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(_REQUEST_ID_RAW, b"").decode("latin-1")
        request_id = (sent or new_request_id())[:128]
        request_id_var.set(request_id)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_context_headers(message.get("headers", ()), request_id)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def with_context_headers(raw: Iterable[tuple[bytes, bytes]], request_id: str) -> list[tuple[bytes, bytes]]:
    """`raw` response headers with X-Request-ID and the security headers set (replacing any
    the route set). One pass: Starlette's MutableHeaders rescans the list for every header."""
    headers = [(k, v) for k, v in raw if k.lower() not in _OURS]
    headers += _SECURITY_RAW
    headers.append((_REQUEST_ID_RAW, request_id.encode("latin-1")))
    return headers


def create_app(settings: PortalSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Clients]]:
        clients = Clients.create(settings)
        clients.start()
        projector = AuditProjector(clients)  # creates its schema, then consumes once NATS is up
        projector.start()
        try:
            yield {"clients": clients}
        finally:
            await projector.stop()
            await clients.close()

    # FastAPI's native OpenTelemetry is off: metrics are Prometheus (/metrics), and leaving it
    # on costs a provider lookup through os.environ on every request.
    no_otel = {"tracing": False, "metrics": False, "logs": False}
    app = FastAPI(title="keyrelay portal API", version="0.1.0", lifespan=lifespan, telemetry=no_otel)
    install_error_handlers(app)

    app.add_middleware(RequestContext)
    install_metrics(app)  # outermost: times RequestContext too; GET /metrics reads app.state.metrics
    app.include_router(openai.router)  # first: the hot path matches on its first try
    app.include_router(operations.router)
    app.include_router(keys.portal)
    app.include_router(keys.byok)
    app.include_router(tenant.router)
    app.include_router(admin.router)
    app.include_router(audit.router)
    app.include_router(models.openrouter)
    app.include_router(models.ai)
    app.include_router(models.portal_usage)
    app.include_router(rag.router)
    return app
