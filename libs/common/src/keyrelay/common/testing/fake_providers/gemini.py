"""The Gemini API under ``/gemini``: ``models/{model}:generateContent``,
``:streamGenerateContent`` (SSE with ``alt=sse``, else a streamed JSON array), ``:embedContent``,
``:batchEmbedContents`` and ``GET models``, under ``/v1beta`` (and ``/v1``).

Auth is the ``x-goog-api-key`` header. A ``key=`` query parameter (which the real API accepts) is
refused with 400 here, so tests catch a key travelling in a URL. Like the real API, a wrong key
is a 400 ``INVALID_ARGUMENT`` with reason ``API_KEY_INVALID`` (not a 401) and a missing key a 403
``PERMISSION_DENIED``. Errors are ``{"error": {"code", "message", "status"}}``; a retry delay
is a ``google.rpc.RetryInfo`` detail, not a header. SSE events end with CRLF CRLF, as Google's do.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ._wire import (
    BadRequest,
    Call,
    Family,
    Output,
    embed,
    format_seconds,
    json_response,
    write_chunked_json,
    write_json,
    write_sse,
)
from ._wire import Event as SseEvent

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_DEFAULT_MESSAGE = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
}
_MODELS = [
    ("gemini-2.0-flash", "Gemini 2.0 Flash", 1048576, 8192, ["generateContent", "countTokens"]),
    ("gemini-2.5-pro", "Gemini 2.5 Pro", 1048576, 65536, ["generateContent", "countTokens"]),
    ("text-embedding-004", "Text Embedding 004", 2048, 1, ["embedContent"]),
    ("gemini-embedding-001", "Gemini Embedding 001", 2048, 1, ["embedContent"]),
]


def error(
    status: int,
    message: str = "",
    retry_after: float | None = None,
    param: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> web.Response:
    body: dict[str, Any] = {
        "code": status,
        "message": message or _DEFAULT_MESSAGE.get(status, "Request failed."),
        "status": _STATUS.get(status, "UNKNOWN"),
    }
    details = list(details or [])
    if retry_after is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{format_seconds(retry_after)}s",
            }
        )
    if details:
        body["details"] = details
    return json_response({"error": body}, status)


def _refuse(
    request: web.Request, provider: str, key: str, valid: frozenset[str] | None
) -> web.Response | None:
    if "key" in request.query:
        return error(
            400, "API keys must be sent in the x-goog-api-key header, not in the URL (fake provider rule)."
        )
    if not key:
        return error(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API.",
        )
    if valid is not None and key not in valid:
        reason = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }
        return error(400, "API key not valid. Please pass a valid API key.", details=[reason])
    return None


GEMINI = Family(credential=lambda r: r.headers.get("x-goog-api-key", ""), refuse=_refuse, error=error)


async def model_action(call: Call) -> web.StreamResponse:
    """``models/{model}:{method}``: one route, dispatched on the method after the colon."""
    model, _, method = call.request.match_info["target"].partition(":")
    action = _ACTIONS.get(method)
    if action is None or not model:
        return error(404, f"Method not found: {method or call.request.match_info['target']}")
    if not isinstance(call.body, dict):
        raise BadRequest("Invalid JSON payload received.")
    return await action(call, model, call.body)


def _texts(content: Any) -> list[str]:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        return []
    return [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]


def _output(call: Call, body: dict[str, Any]) -> Output:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise BadRequest("* GenerateContentRequest.contents: contents is not specified\n")
    prompt = ["\n".join(_texts(body.get("systemInstruction")))]
    prompt += ["\n".join(_texts(content)) for content in contents]
    config = body.get("generationConfig") or {}
    return call.render(prompt, config.get("maxOutputTokens"), config.get("stopSequences"))


def _response(
    out: Output, model: str, ident: str, text: str, completion_tokens: int, finish: bool
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finish:
        candidate["finishReason"] = "MAX_TOKENS" if out.finish == "length" else "STOP"
    candidate["index"] = 0
    response: dict[str, Any] = {"candidates": [candidate]}
    if out.usage:
        response["usageMetadata"] = {
            "promptTokenCount": out.prompt_tokens,
            "candidatesTokenCount": completion_tokens,
            "totalTokenCount": out.prompt_tokens + completion_tokens,
        }
    response["modelVersion"] = model
    response["responseId"] = ident
    return response


def _ident() -> str:
    return base64.urlsafe_b64encode(os.urandom(15)).decode()


async def _generate(call: Call, model: str, body: dict[str, Any]) -> web.StreamResponse:
    out = _output(call, body)
    return await write_json(call, _response(out, model, _ident(), out.text, out.completion_tokens, True))


def _stream_chunks(out: Output, model: str) -> Iterator[dict[str, Any]]:
    """One response per text chunk; usage is cumulative and the last one carries finishReason."""
    ident = _ident()
    chunks = out.chunks or [""]
    tokens = 0
    for i, piece in enumerate(chunks):
        tokens += len(piece.split())
        yield _response(out, model, ident, piece, tokens, i == len(chunks) - 1)


async def _stream(call: Call, model: str, body: dict[str, Any]) -> web.StreamResponse:
    out = _output(call, body)
    chunks = list(_stream_chunks(out, model))
    if call.request.query.get("alt") != "sse":
        return await write_chunked_json(call, chunks)
    events = [SseEvent(c, stage="close" if i == len(chunks) - 1 else "text") for i, c in enumerate(chunks)]
    return await write_sse(call, events, eol="\r\n")


def _dims(model: str, request: dict[str, Any]) -> int:
    dims = request.get("outputDimensionality") or (3072 if model.startswith("gemini-embedding") else 768)
    if not isinstance(dims, int) or dims < 1:
        raise BadRequest("outputDimensionality must be a positive integer.")
    return dims


def _embedding(model: str, request: Any) -> dict[str, Any]:
    if not isinstance(request, dict) or not _texts(request.get("content")):
        raise BadRequest("* EmbedContentRequest.content: contents is not specified\n")
    return {"values": embed("\n".join(_texts(request["content"])), _dims(model, request))}


async def _embed_content(call: Call, model: str, body: dict[str, Any]) -> web.StreamResponse:
    return await write_json(call, {"embedding": _embedding(model, body)})


async def _batch_embed(call: Call, model: str, body: dict[str, Any]) -> web.StreamResponse:
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise BadRequest("* BatchEmbedContentsRequest.requests: requests is not specified\n")
    return await write_json(call, {"embeddings": [_embedding(model, r) for r in requests]})


_ACTIONS = {
    "generateContent": _generate,
    "streamGenerateContent": _stream,
    "embedContent": _embed_content,
    "batchEmbedContents": _batch_embed,
}


async def models(call: Call) -> web.StreamResponse:
    data = [
        {
            "name": f"models/{model}",
            "version": "001",
            "displayName": name,
            "description": f"{name} (fake provider).",
            "inputTokenLimit": input_limit,
            "outputTokenLimit": output_limit,
            "supportedGenerationMethods": methods,
        }
        for model, name, input_limit, output_limit, methods in _MODELS
    ]
    return await write_json(call, {"models": data})
