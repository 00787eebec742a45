"""Cohere API v2 (`POST {base}/v2/chat`, `POST {base}/v2/embed`, bearer key).

Differences from the internal shape:
- top_p is `p`, stop is `stop_sequences`; `tool` messages (which need a tool_call_id we do
  not have) are sent as user turns;
- finish reasons COMPLETE / STOP_SEQUENCE → stop, MAX_TOKENS → length, TOOL_CALL →
  tool_calls, ERROR / TIMEOUT → error;
- usage: `billed_units` (what Cohere charges) when present, else `tokens`;
- streams are server-sent events: `content-delta` carries text, `message-end` the finish
  reason and usage and is the final event;
- embeddings ask for `input_type: "search_document"` and float vectors, in batches of 96
  (the documented maximum per call).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from keyrelay.router.adapters.providers.base import ProviderAdapter, bearer_headers, int_or_none, sampling
from keyrelay.router.domain.messages import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResult,
    Credential,
    EmbedRequest,
    EmbedResult,
    LiveCheckOutcome,
    TokenUsage,
)

EMBED_BATCH = 96
_FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR": "error",
    "TIMEOUT": "error",
}
_ROLES = {"system": "system", "user": "user", "assistant": "assistant"}


class CohereAdapter(ProviderAdapter):
    protocol = "cohere"

    def _headers(self, cred: Credential) -> dict[str, str]:
        return {**bearer_headers(cred), "Accept": "application/json"}

    def _body(self, req: ChatRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": req.model, "messages": [cohere_message(m) for m in req.messages]}
        body.update(sampling(req, top_p="p", stop="stop_sequences"))
        if stream:
            body["stream"] = True
        return body

    async def chat(self, cred: Credential, req: ChatRequest) -> ChatResult:
        data = await self._request_json(
            cred,
            "POST",
            f"{self.base_url}/v2/chat",
            headers=self._headers(cred),
            body=self._body(req, stream=False),
        )
        with self._parsing("a chat answer"):
            content = (data.get("message") or {}).get("content") or ()
            text = "".join(part.get("text", "") for part in content if part.get("type", "text") == "text")
            return ChatResult(
                content=text,
                finish_reason=_FINISH.get(str(data.get("finish_reason")), "stop"),
                usage=cohere_usage(data.get("usage")),
                response_id=str(data.get("id") or ""),
            )

    async def chat_stream(self, cred: Credential, req: ChatRequest) -> AsyncIterator[ChatChunk]:
        finish = "stop"
        usage: TokenUsage | None = None
        headers = {**self._headers(cred), "Accept": "text/event-stream"}
        async with self._open_stream(
            cred, f"{self.base_url}/v2/chat", headers=headers, body=self._body(req, stream=True)
        ) as events:
            async for event in events:
                data = events.json(event)
                if not isinstance(data, dict):
                    continue
                kind = str(data.get("type") or event.event)
                text = ""
                with self._parsing("a stream event"):
                    if kind == "content-delta":
                        content = ((data.get("delta") or {}).get("message") or {}).get("content") or {}
                        text = content.get("text") or ""
                    elif kind == "message-end":
                        delta = data.get("delta") or {}
                        if delta.get("error"):
                            raise self._stream_error(
                                cred, {"error": {"message": delta["error"]}}, events.count
                            )
                        finish = _FINISH.get(str(delta.get("finish_reason")), "stop")
                        usage = cohere_usage(delta.get("usage"))
                if kind == "message-end":
                    break
                if text:
                    yield ChatChunk(delta=text)
            else:
                raise events.cut("no message-end")
        yield ChatChunk(finish_reason=finish, usage=usage)

    async def embed(self, cred: Credential, req: EmbedRequest) -> EmbedResult:
        vectors: list[tuple[float, ...]] = []
        billed: int | None = 0
        for start in range(0, len(req.inputs), EMBED_BATCH):
            body: dict[str, Any] = {
                "model": req.model,
                "texts": list(req.inputs[start : start + EMBED_BATCH]),
                "input_type": "search_document",
                "embedding_types": ["float"],
            }
            if req.dimensions is not None:
                body["output_dimension"] = req.dimensions
            data = await self._request_json(
                cred, "POST", f"{self.base_url}/v2/embed", headers=self._headers(cred), body=body
            )
            with self._parsing("an embed answer"):
                vectors.extend(tuple(v) for v in (data.get("embeddings") or {}).get("float") or ())
                units = ((data.get("meta") or {}).get("billed_units") or {}).get("input_tokens")
                used = int_or_none(units)
                if used is None and isinstance(units, float):
                    used = int(units)
            billed = None if used is None or billed is None else billed + used
        if len(vectors) != len(req.inputs):
            raise self._count_mismatch(len(req.inputs), len(vectors))
        usage = TokenUsage(billed, 0) if billed is not None and req.inputs else None
        return EmbedResult(vectors=tuple(vectors), usage=usage)

    async def check_key(self, cred: Credential) -> LiveCheckOutcome:
        return await self._probe(cred, "GET", f"{self.base_url}/v1/models", headers=self._headers(cred))


def cohere_message(message: ChatMessage) -> dict[str, Any]:
    role = _ROLES.get(message.role, "user")
    if isinstance(message.content, str):
        return {"role": role, "content": message.content}
    content = [
        {"type": "text", "text": part.text}
        if part.type == "text"
        else {"type": "image_url", "image_url": {"url": part.image_url}}
        for part in message.content
    ]
    return {"role": role, "content": content}


def cohere_usage(usage: Any) -> TokenUsage | None:
    if not isinstance(usage, dict):
        return None
    for key in ("billed_units", "tokens"):
        counts = usage.get(key)
        if not isinstance(counts, dict):
            continue
        prompt, completion = counts.get("input_tokens"), counts.get("output_tokens")
        if isinstance(prompt, int | float) and isinstance(completion, int | float):
            return TokenUsage(prompt_tokens=int(prompt), completion_tokens=int(completion))
    return None
