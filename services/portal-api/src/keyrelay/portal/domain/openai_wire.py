"""The OpenAI wire format, translated to and from llm-router-svc's messages. No I/O.

Requests follow OpenAI's Chat Completions and Embeddings APIs (unknown fields are ignored);
answers are OpenAI's JSON plus a `keyrelay` object saying how the call was routed and what
it cost. Streams become OpenAI `chat.completion.chunk` server-sent events.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, Field

from keyrelay.common.errors import InvalidArgument, KeyrelayError, UpstreamError
from keyrelay.portal.domain.auth import Caller
from keyrelay.v1 import common_pb2, router_pb2

# Output limit a request may ask for: above every model's maximum, within the int32 the
# router's proto carries.
MAX_OUTPUT_TOKENS = 1_000_000

DONE = "data: [DONE]\n\n"
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
_KEY_SOURCES = {
    common_pb2.KEY_SOURCE_TENANT: "tenant",
    common_pb2.KEY_SOURCE_PLATFORM: "platform",
    common_pb2.KEY_SOURCE_ENVIRONMENT: "environment",
}
_OUTCOMES = {
    common_pb2.ATTEMPT_OUTCOME_SUCCESS: "success",
    common_pb2.ATTEMPT_OUTCOME_RETRYABLE_ERROR: "retryable_error",
    common_pb2.ATTEMPT_OUTCOME_FATAL_ERROR: "fatal_error",
    common_pb2.ATTEMPT_OUTCOME_SKIPPED: "skipped",
}

# -- requests --------------------------------------------------------------------------


class ImageUrlIn(BaseModel):
    url: str
    detail: str = "auto"


class ContentPartIn(BaseModel):
    type: str
    text: str | None = None
    image_url: ImageUrlIn | str | None = None


class MessageIn(BaseModel):
    role: str
    content: str | list[ContentPartIn] | None = None
    name: str | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionBody(BaseModel):
    model: str = "auto"
    messages: list[MessageIn] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    n: int = 1
    stream: bool = False
    stream_options: StreamOptions | None = None

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class EmbeddingsBody(BaseModel):
    input: str | list[str]
    model: str = "auto"
    dimensions: int | None = Field(default=None, ge=1, le=65_536)
    encoding_format: Literal["float", "base64"] = "float"


def _part(part: ContentPartIn, where: str) -> router_pb2.ContentPart:
    if part.type == "text":
        if part.text is None:
            raise InvalidArgument(f"{where}: a text part needs 'text'")
        return router_pb2.ContentPart(text=part.text)
    if part.type == "image_url":
        image = part.image_url
        if image is None:
            raise InvalidArgument(f"{where}: an image_url part needs 'image_url'")
        if isinstance(image, str):
            image = ImageUrlIn(url=image)
        return router_pb2.ContentPart(image_url=router_pb2.ImageUrl(url=image.url, detail=image.detail))
    raise InvalidArgument(f"{where}: content part type '{part.type[:40]}' is not supported (text, image_url)")


def chat_message(message: MessageIn, index: int) -> router_pb2.ChatMessage:
    role = _ROLES.get(message.role)
    if role is None:
        raise InvalidArgument(f"messages.{index}.role must be one of {', '.join(_ROLES)}")
    out = router_pb2.ChatMessage(role=role, name=message.name or "")
    if isinstance(message.content, str):
        out.content = message.content
    elif message.content is not None:
        out.parts.extend(_part(p, f"messages.{index}.content.{i}") for i, p in enumerate(message.content))
    return out


def complete_request(body: ChatCompletionBody, caller: Caller) -> router_pb2.CompleteRequest:
    if body.n != 1:
        raise InvalidArgument("n must be 1: keyrelay returns one choice per request")
    request = router_pb2.CompleteRequest(
        tenant_id=caller.tenant(),
        access_key_id=caller.key_id or "",
        access_key_rate_limit=caller.rate_limit,
        messages=[chat_message(m, i) for i, m in enumerate(body.messages)],
        model=body.model,
        stop=[body.stop] if isinstance(body.stop, str) else (body.stop or []),
    )
    max_tokens = body.max_completion_tokens or body.max_tokens
    if max_tokens is not None:
        request.max_tokens = max_tokens
    if body.temperature is not None:
        request.temperature = body.temperature
    if body.top_p is not None:
        request.top_p = body.top_p
    return request


def embed_request(body: EmbeddingsBody, caller: Caller) -> router_pb2.EmbedRequest:
    inputs = [body.input] if isinstance(body.input, str) else body.input
    if not inputs:
        raise InvalidArgument("input must be a string or a non-empty list of strings")
    request = router_pb2.EmbedRequest(
        tenant_id=caller.tenant(),
        access_key_id=caller.key_id or "",
        access_key_rate_limit=caller.rate_limit,
        inputs=inputs,
        model=body.model,
    )
    if body.dimensions is not None:
        request.dimensions = body.dimensions
    return request


# -- answers ---------------------------------------------------------------------------


def route_json(route: common_pb2.Route) -> dict[str, Any]:
    return {
        "provider": route.provider,
        "model": route.model,
        "key_source": _KEY_SOURCES.get(route.key_source, "unspecified"),
        "reason": route.reason,
        "attempts": [
            {
                "provider": a.provider,
                "model": a.model,
                "outcome": _OUTCOMES.get(a.outcome, "unspecified"),
                "error": a.error or None,
                "upstream_status": a.upstream_status or None,
                "latency_ms": round(a.latency_ms, 3),
            }
            for a in route.attempts
        ],
    }


def usage_json(usage: common_pb2.Usage) -> dict[str, int]:
    total = usage.total_tokens or usage.prompt_tokens + usage.completion_tokens
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": total,
    }


def _extension(route: common_pb2.Route, usage: common_pb2.Usage, cost_usd: float) -> dict[str, Any]:
    return {"route": route_json(route), "cost_usd": cost_usd, "usage_estimated": usage.estimated}


def completion_json(reply: router_pb2.CompleteResponse) -> dict[str, Any]:
    created = reply.created.seconds if reply.HasField("created") else int(time.time())
    return {
        "id": reply.id,
        "object": "chat.completion",
        "created": created,
        "model": reply.route.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content, "refusal": None},
                "finish_reason": reply.finish_reason or "stop",
                "logprobs": None,
            }
        ],
        "usage": usage_json(reply.usage),
        "keyrelay": _extension(reply.route, reply.usage, reply.cost_usd),
    }


def models_json(reply: router_pb2.ListModelsResponse) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": m.id,
                "object": "model",
                "created": 0,
                "owned_by": m.provider,
                "name": m.name,
                "context_window": m.context_window,
                "pricing": {
                    "input_per_mtok": m.input_price_per_mtok,
                    "output_per_mtok": m.output_price_per_mtok,
                },
            }
            for m in reply.models
        ],
    }


def _vector(values: Any, encoding: str) -> list[float] | str:
    if encoding == "base64":  # what the OpenAI SDKs ask for by default: little-endian float32
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
    return list(values)


def embeddings_json(reply: router_pb2.EmbedResponse, encoding: str = "float") -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": e.index, "embedding": _vector(e.values, encoding)}
            for e in reply.embeddings
        ],
        "model": reply.model or reply.route.model,
        "usage": {
            "prompt_tokens": reply.usage.prompt_tokens,
            "total_tokens": usage_json(reply.usage)["total_tokens"],
        },
        "keyrelay": _extension(reply.route, reply.usage, reply.cost_usd),
    }


# -- streams ---------------------------------------------------------------------------


def sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def error_event(err: KeyrelayError, request_id: str | None) -> str:
    return sse({"error": {"type": err.type, "message": err.message, "request_id": request_id}})


class _ChunkShape:
    def __init__(self, created: int, include_usage: bool) -> None:
        self.created = created
        self.include_usage = include_usage
        self.id = ""
        self.model = ""

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }
        if self.include_usage:
            body["usage"] = None
        body.update(extra)
        return body


async def chat_completion_events(
    chunks: AsyncIterator[router_pb2.CompleteStreamChunk],
    *,
    include_usage: bool,
    request_id: str | None,
    created: int | None = None,
) -> AsyncIterator[str]:
    """OpenAI SSE events for a router stream: a role chunk, the deltas, a chunk with the
    finish_reason (and keyrelay's route and cost), the usage chunk when asked, `[DONE]`.
    A `KeyrelayError` raised by `chunks` becomes an `error` event followed by `[DONE]`."""
    shape = _ChunkShape(created or int(time.time()), include_usage)
    started = False
    try:
        async for chunk in chunks:
            shape.id, shape.model = chunk.id or shape.id, chunk.model or shape.model
            if not started:
                started = True
                yield sse(shape.chunk({"role": "assistant", "content": ""}))
            if chunk.WhichOneof("event") == "final":
                final = chunk.final
                if final.route.model:
                    shape.model = final.route.model
                ext = _extension(final.route, final.usage, final.cost_usd)
                yield sse(shape.chunk({}, final.finish_reason or "stop", keyrelay=ext))
                if include_usage:
                    usage = shape.chunk({})
                    usage.update(choices=[], usage=usage_json(final.usage))
                    yield sse(usage)
                yield DONE
                return
            if chunk.delta:
                yield sse(shape.chunk({"content": chunk.delta}))
        raise UpstreamError("the model's stream ended before its final chunk")
    except KeyrelayError as err:
        yield error_event(err, request_id)
        yield DONE
