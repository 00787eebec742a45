"""OpenAI Chat Completions and the many servers that speak it.

openai, openrouter, deepseek, mistral, perplexity, groq, together, xai, huggingface and the
self-hosted ollama, vllm and lmstudio all take `POST {base}/chat/completions` with a bearer
key. Differences handled here, by provider name:

- mistral refuses unknown fields (422 `extra_forbidden`), `stream_options` included, and
  reports usage in its last chunk anyway: no `stream_options` for it;
- check_key: OpenRouter's `/models` is public, so its free authenticated `GET /key` is used;
  Perplexity documents no free authenticated call, so one 1-token completion; Hugging Face
  checks `whoami-v2` on huggingface.co (only when the default router URL is in use);
- openai: the optional `organization` / `project` credential fields become the
  `OpenAI-Organization` / `OpenAI-Project` headers;
- self-hosted servers may run without a key: no `Authorization` header is sent then.

Azure OpenAI (azure_openai.py) reuses the bodies and parsing with other URLs and headers.
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

HUGGINGFACE_ROUTER = "https://router.huggingface.co/v1"
HUGGINGFACE_WHOAMI = "https://huggingface.co/api/whoami-v2"
EMBED_BATCH = 2048  # OpenAI's documented maximum number of inputs per request
_NO_STREAM_OPTIONS = frozenset({"mistral"})
_FINISH = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "eos": "stop",  # some self-hosted servers
    "model_length": "length",  # mistral
    "error": "error",
}


class OpenAICompatAdapter(ProviderAdapter):
    protocol = "openai"

    # ------------------------------------------------------------------ URLs and headers
    # Azure overrides these three.

    def _url(self, cred: Credential, operation: str, model: str) -> str:
        return f"{self.base_url}/{operation}"

    def _params(self, cred: Credential) -> dict[str, str] | None:
        return None

    def _headers(self, cred: Credential) -> dict[str, str]:
        headers = bearer_headers(cred)
        if self.name == "openai":
            if org := cred.fields.get("organization"):
                headers["OpenAI-Organization"] = org
            if project := cred.fields.get("project"):
                headers["OpenAI-Project"] = project
        return headers

    # ------------------------------------------------------------------ chat

    def _chat_body(self, req: ChatRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": req.model, "messages": [openai_message(m) for m in req.messages]}
        body.update(sampling(req))
        if stream:
            body["stream"] = True
            if self.name not in _NO_STREAM_OPTIONS:
                body["stream_options"] = {"include_usage": True}
        return body

    async def chat(self, cred: Credential, req: ChatRequest) -> ChatResult:
        data = await self._request_json(
            cred,
            "POST",
            self._url(cred, "chat/completions", req.model),
            headers=self._headers(cred),
            body=self._chat_body(req, stream=False),
            params=self._params(cred),
        )
        with self._parsing("a chat answer"):
            choice = (data.get("choices") or [{}])[0]
            message = choice.get("message") or {}
            content = message.get("content") or message.get("refusal") or ""
            if not isinstance(content, str):  # a list of parts, from a few compatible servers
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return ChatResult(
                content=content,
                finish_reason=finish_reason(choice.get("finish_reason")),
                usage=openai_usage(data.get("usage")),
                response_id=str(data.get("id") or ""),
            )

    async def chat_stream(self, cred: Credential, req: ChatRequest) -> AsyncIterator[ChatChunk]:
        finish = ""
        usage: TokenUsage | None = None
        async with self._open_stream(
            cred,
            self._url(cred, "chat/completions", req.model),
            headers=self._headers(cred),
            body=self._chat_body(req, stream=True),
            params=self._params(cred),
        ) as events:
            async for event in events:
                if event.data.strip() == "[DONE]":
                    break
                data = events.json(event)
                if not isinstance(data, dict):
                    continue
                if "error" in data:  # OpenRouter and others report mid-stream errors this way
                    raise self._stream_error(cred, data, events.count)
                with self._parsing("a stream chunk"):
                    usage = (
                        openai_usage(data.get("usage") or (data.get("x_groq") or {}).get("usage")) or usage
                    )
                    text = ""
                    for choice in data.get("choices") or ():
                        if choice.get("index", 0) != 0:
                            continue
                        text += (choice.get("delta") or {}).get("content") or ""
                        if choice.get("finish_reason"):
                            finish = finish_reason(choice["finish_reason"])
                if text:
                    yield ChatChunk(delta=text)
            else:
                raise events.cut("no [DONE]")
        yield ChatChunk(finish_reason=finish or "stop", usage=usage)

    # ------------------------------------------------------------------ embeddings

    async def embed(self, cred: Credential, req: EmbedRequest) -> EmbedResult:
        vectors: list[tuple[float, ...]] = []
        prompt_tokens: int | None = 0
        for start in range(0, len(req.inputs), EMBED_BATCH):
            body: dict[str, Any] = {
                "model": req.model,
                "input": list(req.inputs[start : start + EMBED_BATCH]),
            }
            if req.dimensions is not None:
                body["dimensions"] = req.dimensions
            data = await self._request_json(
                cred,
                "POST",
                self._url(cred, "embeddings", req.model),
                headers=self._headers(cred),
                body=body,
                params=self._params(cred),
            )
            with self._parsing("an embeddings answer"):
                items = sorted(data.get("data") or (), key=lambda item: item.get("index", 0))
                vectors.extend(tuple(item["embedding"]) for item in items)
                used = int_or_none((data.get("usage") or {}).get("prompt_tokens"))
            prompt_tokens = None if used is None or prompt_tokens is None else prompt_tokens + used
        if len(vectors) != len(req.inputs):
            raise self._count_mismatch(len(req.inputs), len(vectors))
        usage = TokenUsage(prompt_tokens, 0) if prompt_tokens is not None and req.inputs else None
        return EmbedResult(vectors=tuple(vectors), usage=usage)

    # ------------------------------------------------------------------ key check

    async def check_key(self, cred: Credential) -> LiveCheckOutcome:
        headers = self._headers(cred)
        if self.name == "openrouter":
            return await self._probe(cred, "GET", f"{self.base_url}/key", headers=headers)
        if self.name == "perplexity":
            body = {"model": "sonar", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
            return await self._probe(
                cred, "POST", f"{self.base_url}/chat/completions", headers=headers, body=body
            )
        if self.name == "huggingface" and self.base_url == HUGGINGFACE_ROUTER:
            return await self._probe(cred, "GET", HUGGINGFACE_WHOAMI, headers=headers)
        return await self._probe(cred, "GET", f"{self.base_url}/models", headers=headers)


# ---------------------------------------------------------------------- wire helpers


def openai_message(message: ChatMessage) -> dict[str, Any]:
    if isinstance(message.content, str):
        content: Any = message.content
    else:
        content = [
            {"type": "text", "text": part.text}
            if part.type == "text"
            else {"type": "image_url", "image_url": {"url": part.image_url}}
            for part in message.content
        ]
    wire: dict[str, Any] = {"role": message.role, "content": content}
    if message.name:
        wire["name"] = message.name
    return wire


def finish_reason(value: Any) -> str:
    if not value:
        return "stop"
    return _FINISH.get(str(value), "stop")


def openai_usage(usage: Any) -> TokenUsage | None:
    if not isinstance(usage, dict):
        return None
    prompt = int_or_none(usage.get("prompt_tokens"))
    completion = int_or_none(usage.get("completion_tokens"))
    if prompt is None and completion is None:
        return None
    return TokenUsage(prompt_tokens=prompt or 0, completion_tokens=completion or 0)
