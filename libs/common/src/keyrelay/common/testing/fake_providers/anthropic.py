"""Anthropic's Messages API under ``/anthropic``: ``POST /v1/messages`` (JSON or the documented
SSE event sequence) and ``GET /v1/models``.

Auth is the ``x-api-key`` header plus a required ``anthropic-version`` header. Errors are
``{"type": "error", "error": {"type", "message"}}``; 529 is ``overloaded_error``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ._wire import (
    BadRequest,
    Call,
    Event,
    Family,
    Output,
    format_seconds,
    json_response,
    text_of,
    write_json,
    write_sse,
)

_ERRORS = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}
_MODELS = [
    ("claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-22T00:00:00Z"),
    ("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"),
]


def error(
    status: int, message: str = "", retry_after: float | None = None, param: str | None = None
) -> web.Response:
    type_, default = _ERRORS.get(status, ("api_error", "Internal server error"))
    headers = {"retry-after": format_seconds(retry_after)} if retry_after is not None else None
    return json_response(
        {"type": "error", "error": {"type": type_, "message": message or default}}, status, headers
    )


def _refuse(
    request: web.Request, provider: str, key: str, valid: frozenset[str] | None
) -> web.Response | None:
    if not key:
        return error(401, "x-api-key header is required")
    if valid is not None and key not in valid:
        return error(401, "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return error(400, "anthropic-version: header is required")
    return None


ANTHROPIC = Family(credential=lambda r: r.headers.get("x-api-key", ""), refuse=_refuse, error=error)


async def messages(call: Call) -> web.StreamResponse:
    body = call.body
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    for field in ("model", "messages", "max_tokens"):
        if field not in body:
            raise BadRequest(f"{field}: Field required")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        raise BadRequest("max_tokens: Input should be a valid integer greater than or equal to 1")
    if not isinstance(body["messages"], list) or not body["messages"]:
        raise BadRequest("messages: at least one message is required")
    prompt = [text_of(body.get("system"))] + [
        text_of(m.get("content")) for m in body["messages"] if isinstance(m, dict)
    ]
    out = call.render(prompt, body["max_tokens"], body.get("stop_sequences"))
    ident = "msg_01" + os.urandom(11).hex()
    model = body["model"]
    if body.get("stream"):
        return await write_sse(call, _events(out, ident, model))
    message: dict[str, Any] = {
        "id": ident,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": out.text}],
        "stop_reason": _stop_reason(out),
        "stop_sequence": out.stop_sequence,
    }
    if out.usage:
        message["usage"] = _usage(out.prompt_tokens, out.completion_tokens)
    return await write_json(call, message)


def _stop_reason(out: Output) -> str:
    return {"stop": "end_turn", "length": "max_tokens", "stop_sequence": "stop_sequence"}[out.finish]


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def _events(out: Output, ident: str, model: str) -> Iterator[Event]:
    start: dict[str, Any] = {
        "id": ident,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }
    if out.usage:
        start["usage"] = _usage(out.prompt_tokens, 1)
    yield Event({"type": "message_start", "message": start}, "message_start", "open")
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    yield Event(block, "content_block_start", "open")
    yield Event({"type": "ping"}, "ping", "open")
    for piece in out.chunks:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
        yield Event(delta, "content_block_delta")
    yield Event({"type": "content_block_stop", "index": 0}, "content_block_stop", "close")
    end: dict[str, Any] = {
        "type": "message_delta",
        "delta": {"stop_reason": _stop_reason(out), "stop_sequence": out.stop_sequence},
    }
    if out.usage:
        end["usage"] = {"output_tokens": out.completion_tokens}
    yield Event(end, "message_delta", "close")
    yield Event({"type": "message_stop"}, "message_stop", "close")


async def models(call: Call) -> web.StreamResponse:
    data = [
        {"type": "model", "id": model, "display_name": name, "created_at": created}
        for model, name, created in _MODELS
    ]
    return await write_json(
        call, {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
    )
