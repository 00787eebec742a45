"""Google Gemini API (generativelanguage.googleapis.com, v1beta).

The key goes ONLY in the `x-goog-api-key` header, never in the URL (`?key=` would leave it
in proxy and access logs). Differences from the internal shape:
- roles are `user` and `model`; `tool` messages are sent as user turns, and consecutive
  turns of one role are merged (Gemini wants them alternating);
- system messages become `systemInstruction`; max_tokens, temperature, top_p and stop go in
  `generationConfig`;
- images: a `data:` URL becomes `inlineData`, another URL `fileData` (not fetched here);
- usage: `usageMetadata`, with thinking tokens (`thoughtsTokenCount`) counted as completion
  tokens since they are billed as output; thought parts are not returned as text;
- streams (`:streamGenerateContent?alt=sse`) have no end marker: the final event is the
  one carrying `finishReason` (or a blocked prompt); the body ending before it is a cut;
- an invalid key is answered with 400 `API_KEY_INVALID`, treated as a refused key.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from keyrelay.router.adapters.providers.base import ProviderAdapter, int_or_none, sampling, split_data_url
from keyrelay.router.domain.messages import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResult,
    Credential,
    EmbedRequest,
    EmbedResult,
    LiveCheckOutcome,
    ProviderError,
    TokenUsage,
)

EMBED_BATCH = 100  # batchEmbedContents' documented maximum number of requests
_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "LANGUAGE": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "OTHER": "error",
}


class GeminiAdapter(ProviderAdapter):
    protocol = "gemini"

    def _headers(self, cred: Credential) -> dict[str, str]:
        return {"x-goog-api-key": cred.api_key}

    def _model_url(self, model: str, method: str) -> str:
        model = model.removeprefix("models/")
        return f"{self.base_url}/v1beta/models/{quote(model, safe='')}:{method}"

    def _is_auth_failure(self, status: int, payload: Any) -> bool:
        if status in (401, 403):
            return True
        if status == 400:
            if isinstance(payload, list) and payload:
                payload = payload[0]
            err = payload.get("error") if isinstance(payload, dict) else None
            details = err.get("details") if isinstance(err, dict) else None
            for item in details if isinstance(details, list) else ():
                if isinstance(item, dict) and item.get("reason") in ("API_KEY_INVALID", "API_KEY_EXPIRED"):
                    return True
        return False

    def _body(self, req: ChatRequest) -> dict[str, Any]:
        system, contents = gemini_contents(req.messages)
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        config = sampling(req, max_tokens="maxOutputTokens", top_p="topP", stop="stopSequences")
        if config:
            body["generationConfig"] = config
        return body

    async def chat(self, cred: Credential, req: ChatRequest) -> ChatResult:
        data = await self._request_json(
            cred,
            "POST",
            self._model_url(req.model, "generateContent"),
            headers=self._headers(cred),
            body=self._body(req),
        )
        with self._parsing("a generateContent answer"):
            text, finish = _candidate(data)
            return ChatResult(
                content=text,
                finish_reason=finish or "stop",
                usage=_usage(data.get("usageMetadata")),
                response_id=str(data.get("responseId") or ""),
            )

    async def chat_stream(self, cred: Credential, req: ChatRequest) -> AsyncIterator[ChatChunk]:
        usage: TokenUsage | None = None
        finish = ""
        async with self._open_stream(
            cred,
            self._model_url(req.model, "streamGenerateContent"),
            headers=self._headers(cred),
            body=self._body(req),
            params={"alt": "sse"},
        ) as events:
            # No end marker: the body ends after the chunk with the finish reason (usage may
            # follow in a chunk of its own, so read on to the end).
            try:
                async for event in events:
                    data = events.json(event)
                    if not isinstance(data, dict):
                        continue
                    if "error" in data:
                        raise self._stream_error(cred, data, events.count)
                    with self._parsing("a stream chunk"):
                        text, reason = _candidate(data)
                        usage = _usage(data.get("usageMetadata")) or usage
                    finish = reason or finish
                    if text:
                        yield ChatChunk(delta=text)
            except ProviderError as exc:
                if not (finish and exc.kind == "stream_cut"):  # a drop after the last chunk is harmless
                    raise
            if not finish:
                raise events.cut("no chunk with a finishReason")
        yield ChatChunk(finish_reason=finish, usage=usage)

    async def embed(self, cred: Credential, req: EmbedRequest) -> EmbedResult:
        model = "models/" + req.model.removeprefix("models/")
        vectors: list[tuple[float, ...]] = []
        for start in range(0, len(req.inputs), EMBED_BATCH):
            requests = []
            for text in req.inputs[start : start + EMBED_BATCH]:
                item: dict[str, Any] = {"model": model, "content": {"parts": [{"text": text}]}}
                if req.dimensions is not None:
                    item["outputDimensionality"] = req.dimensions
                requests.append(item)
            data = await self._request_json(
                cred,
                "POST",
                self._model_url(req.model, "batchEmbedContents"),
                headers=self._headers(cred),
                body={"requests": requests},
            )
            with self._parsing("a batchEmbedContents answer"):
                vectors.extend(tuple(item["values"]) for item in data.get("embeddings") or ())
        if len(vectors) != len(req.inputs):
            raise self._count_mismatch(len(req.inputs), len(vectors))
        # batchEmbedContents reports no token counts: the router estimates them.
        return EmbedResult(vectors=tuple(vectors), usage=None)

    async def check_key(self, cred: Credential) -> LiveCheckOutcome:
        return await self._probe(cred, "GET", f"{self.base_url}/v1beta/models", headers=self._headers(cred))


def gemini_contents(messages: tuple[ChatMessage, ...]) -> tuple[str, list[dict[str, Any]]]:
    """(system instruction text, `contents` with alternating user/model turns)."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            if text := message.text():
                system.append(text)
            continue
        role = "model" if message.role == "assistant" else "user"
        parts = _parts(message)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return "\n\n".join(system), contents


def _parts(message: ChatMessage) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"text": message.content}] if message.content else []
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if part.type == "text":
            if part.text:
                parts.append({"text": part.text})
        elif inline := split_data_url(part.image_url):
            mime_type, data = inline
            parts.append({"inlineData": {"mimeType": mime_type, "data": data}})
        else:
            mime_type = mimetypes.guess_type(part.image_url.split("?", 1)[0])[0] or "image/jpeg"
            parts.append({"fileData": {"mimeType": mime_type, "fileUri": part.image_url}})
    return parts


def _candidate(data: dict[str, Any]) -> tuple[str, str]:
    """(text, finish reason or "") of the first candidate; a blocked prompt finishes as content_filter."""
    candidates = data.get("candidates") or []
    if not candidates:
        blocked = (data.get("promptFeedback") or {}).get("blockReason")
        return "", "content_filter" if blocked else ""
    candidate = candidates[0]
    parts = (candidate.get("content") or {}).get("parts") or ()
    text = "".join(part.get("text", "") for part in parts if not part.get("thought"))
    reason = candidate.get("finishReason")
    if not reason or reason == "FINISH_REASON_UNSPECIFIED":
        return text, ""
    return text, _FINISH.get(str(reason), "stop")


def _usage(meta: Any) -> TokenUsage | None:
    if not isinstance(meta, dict):
        return None
    prompt = int_or_none(meta.get("promptTokenCount"))
    output = int_or_none(meta.get("candidatesTokenCount"))
    thoughts = int_or_none(meta.get("thoughtsTokenCount")) or 0
    if prompt is None and output is None:
        return None
    return TokenUsage(prompt_tokens=prompt or 0, completion_tokens=(output or 0) + thoughts)
