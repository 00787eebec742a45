"""Cohere under ``/cohere``: ``POST /v2/chat`` (JSON, or SSE ``event:``/``data:`` pairs from
``message-start`` to ``message-end``), ``POST /v2/embed`` and ``GET /v1/models``.

Auth is ``Authorization: Bearer <key>``. Errors are ``{"message": "..."}``; Cohere documents no
retry-after header, so ``Fail.retry_after`` is not sent for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ._wire import (
    BadRequest,
    Call,
    Event,
    Family,
    Output,
    embed,
    json_response,
    text_of,
    write_json,
    write_sse,
)

_DEFAULT_MESSAGE = {
    400: "invalid request",
    401: "invalid api token",
    403: "forbidden",
    404: "model not found",
    429: "You are past the per minute request limit, please wait and try again later.",
    500: "internal server error, this has been reported to our developers",
    503: "service unavailable",
}
_MODELS = [
    ("command-a-03-2025", ["chat"], 256000),
    ("command-r-plus-08-2024", ["chat"], 128000),
    ("embed-english-v3.0", ["embed"], 512),
    ("embed-v4.0", ["embed"], 128000),
]


def error(
    status: int, message: str = "", retry_after: float | None = None, param: str | None = None
) -> web.Response:
    return json_response({"message": message or _DEFAULT_MESSAGE.get(status, "request failed")}, status)


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def _refuse(
    request: web.Request, provider: str, key: str, valid: frozenset[str] | None
) -> web.Response | None:
    if not key:
        return error(401, "no api key supplied")
    if valid is not None and key not in valid:
        return error(401, "invalid api token")
    return None


COHERE = Family(credential=_bearer, refuse=_refuse, error=error)


def _usage(out: Output) -> dict[str, Any]:
    tokens = {"input_tokens": out.prompt_tokens, "output_tokens": out.completion_tokens}
    return {"billed_units": dict(tokens), "tokens": dict(tokens)}


def _finish(out: Output) -> str:
    return {"stop": "COMPLETE", "length": "MAX_TOKENS", "stop_sequence": "STOP_SEQUENCE"}[out.finish]


async def chat(call: Call) -> web.StreamResponse:
    body = call.body
    if not isinstance(body, dict):
        raise BadRequest("invalid request: body must be a JSON object")
    if not body.get("model"):
        raise BadRequest("invalid request: model must be specified")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("invalid request: messages must not be empty")
    prompt = [text_of(m.get("content")) for m in messages if isinstance(m, dict)]
    out = call.render(prompt, body.get("max_tokens"), body.get("stop_sequences"))
    ident = str(uuid.uuid4())
    if body.get("stream"):
        return await write_sse(call, _events(out, ident))
    response: dict[str, Any] = {
        "id": ident,
        "finish_reason": _finish(out),
        "message": {"role": "assistant", "content": [{"type": "text", "text": out.text}]},
    }
    if out.usage:
        response["usage"] = _usage(out)
    return await write_json(call, response)


def _events(out: Output, ident: str) -> Iterator[Event]:
    start = {
        "id": ident,
        "type": "message-start",
        "delta": {
            "message": {
                "role": "assistant",
                "content": [],
                "tool_plan": "",
                "tool_calls": [],
                "citations": [],
            }
        },
    }
    yield Event(start, "message-start", "open")
    content_start = {
        "type": "content-start",
        "index": 0,
        "delta": {"message": {"content": {"type": "text", "text": ""}}},
    }
    yield Event(content_start, "content-start", "open")
    for piece in out.chunks:
        delta = {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}}
        yield Event(delta, "content-delta")
    yield Event({"type": "content-end", "index": 0}, "content-end", "close")
    end: dict[str, Any] = {"finish_reason": _finish(out)}
    if out.usage:
        end["usage"] = _usage(out)
    yield Event({"type": "message-end", "delta": end}, "message-end", "close")


async def embed_texts(call: Call) -> web.StreamResponse:
    body = call.body
    if not isinstance(body, dict) or not body.get("model"):
        raise BadRequest("invalid request: model must be specified")
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise BadRequest("invalid request: texts must be a non-empty list of strings")
    if not body.get("input_type"):
        raise BadRequest("invalid request: input_type is required for Embed v3 and later models")
    types = body.get("embedding_types") or ["float"]
    if types != ["float"]:
        raise BadRequest("invalid request: the fake provider only serves embedding_types ['float']")
    model = body["model"]
    dims = body.get("output_dimension") or (1536 if model.startswith("embed-v4") else 1024)
    tokens = sum(len(t.split()) for t in texts)
    payload: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "embeddings": {"float": [embed(t, dims) for t in texts]},
        "texts": texts,
        "meta": {"api_version": {"version": "2"}},
        "response_type": "embeddings_by_type",
    }
    if call.ok.usage:
        payload["meta"]["billed_units"] = {"input_tokens": tokens}
    return await write_json(call, payload)


async def models(call: Call) -> web.StreamResponse:
    data = [
        {
            "name": name,
            "endpoints": endpoints,
            "finetuned": False,
            "context_length": context,
            "tokenizer_url": f"https://storage.googleapis.com/cohere-public/tokenizers/{name}.json",
            "default_endpoints": [],
        }
        for name, endpoints, context in _MODELS
    ]
    return await write_json(call, {"models": data})
