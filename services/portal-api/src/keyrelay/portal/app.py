"""The portal application: built by `create_app(settings)`; clients live in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from keyrelay.common.context import REQUEST_ID_HEADER, new_request_id, request_id_var
from keyrelay.common.http_errors import install_error_handlers
from keyrelay.portal.adapters.clients import Clients
from keyrelay.portal.config import PortalSettings
from keyrelay.portal.routes import openai, operations

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(settings: PortalSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Clients]]:
        clients = Clients.create(settings)
        clients.start()
        try:
            yield {"clients": clients}
        finally:
            await clients.close()

    app = FastAPI(title="keyrelay portal API", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get(REQUEST_ID_HEADER) or new_request_id()
        request_id_var.set(request_id[:128])
        response = await call_next(request)
        response.headers["X-Request-ID"] = request_id_var.get() or request_id
        response.headers.update(SECURITY_HEADERS)
        return response

    app.include_router(operations.router)
    app.include_router(openai.router)
    return app
