"""The one FastAPI exception handler: every error becomes
`{"error": {"type", "message", "request_id"}}` with the status its class carries."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from keyrelay.common.context import request_id_var
from keyrelay.common.errors import KeyrelayError

log = logging.getLogger(__name__)


def error_response(status: int, type_: str, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    body = {"error": {"type": type_, "message": message, "request_id": request_id_var.get()}}
    return JSONResponse(body, status_code=status, headers=headers)


def _describe(errors: list[dict[str, object]]) -> str:
    parts = []
    for e in errors[:5]:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")  # type: ignore[union-attr]
        parts.append(f"{where or 'body'}: {e.get('msg')}")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KeyrelayError)
    async def keyrelay_error(_: Request, err: KeyrelayError) -> JSONResponse:
        return error_response(err.http_status, err.type, err.message, err.retry_after)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, err: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", "invalid request: " + _describe(list(err.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        type_ = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}.get(
            err.status_code, "http_error"
        )
        return error_response(err.status_code, type_, str(err.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, err: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; the request id is in the log")
