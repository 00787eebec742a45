"""Anthropic Messages API (`POST {base}/v1/messages`, `anthropic-version: 2023-06-01`).

Differences from the internal shape:
- system messages go to the top-level `system` string (joined by blank lines);
- only `user` and `assistant` turns exist: `tool` messages are sent as user turns, and
  consecutive turns of one role are merged into one message of several content blocks;
- `max_tokens` is required: 1024 when the request has none;
- images: a `data:` URL becomes a base64 source, an https URL a `url` source;
- usage: prompt tokens are input + cache-creation + cache-read tokens;
- 529 (overloaded) is a server error like any 5xx.
Anthropic has no embeddings API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

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

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


class AnthropicAdapter(ProviderAdapter):
    protocol = "anthropic"

    def _headers(self, cred: Credential) -> dict[str, str]:
        return {
            "x-api-key": cred.api_key,
            "anthropic-version": API_VERSION,
            "content-type": "application/json",
        }

    def _body(self, req: ChatRequest, *, stream: bool) -> dict[str, Any]:
        system, messages = anthropic_messages(req.messages)
        body: dict[str, Any] = {
            "model": req.model,
            "max_tokens": req.max_tokens if req.max_tokens is not None else DEFAULT_MAX_TOKENS,
            "messages": messages,
        }
        if system:
            body["system"] = system
        body.update(sampling(req, stop="stop_sequences"))  # max_tokens: set above, always
        if stream:
            body["stream"] = True
        return body

    async def chat(self, cred: Credential, req: ChatRequest) -> ChatResult:
        data = await self._request_json(
            cred,
            "POST",
            f"{self.base_url}/v1/messages",
            headers=self._headers(cred),
            body=self._body(req, stream=False),
        )
        with self._parsing("a messages answer"):
            text = "".join(
                block.get("text", "") for block in data.get("content") or () if block.get("type") == "text"
            )
            usage = data.get("usage") or {}
            return ChatResult(
                content=text,
                finish_reason=_FINISH.get(str(data.get("stop_reason")), "stop"),
                usage=_usage(_input_tokens(usage), int_or_none(usage.get("output_tokens"))),
                response_id=str(data.get("id") or ""),
            )

    async def chat_stream(self, cred: Credential, req: ChatRequest) -> AsyncIterator[ChatChunk]:
        prompt: int | None = None
        completion: int | None = None
        finish = "stop"
        async with self._open_stream(
            cred,
            f"{self.base_url}/v1/messages",
            headers=self._headers(cred),
            body=self._body(req, stream=True),
        ) as events:
            async for event in events:
                kind = event.event
                if kind in ("ping", "content_block_start", "content_block_stop"):
                    continue
                data = events.json(event)
                if not isinstance(data, dict):
                    continue
                kind = kind or str(data.get("type", ""))
                if kind == "error":
                    raise self._stream_error(cred, data, events.count)
                if kind == "message_stop":
                    break
                text = ""
                with self._parsing("a stream event"):
                    if kind == "content_block_delta":
                        delta = data.get("delta") or {}
                        if delta.get("type") == "text_delta":
                            text = delta.get("text") or ""
                    elif kind == "message_start":
                        prompt = _input_tokens((data.get("message") or {}).get("usage") or {})
                    elif kind == "message_delta":
                        usage = data.get("usage") or {}
                        if (output := int_or_none(usage.get("output_tokens"))) is not None:
                            completion = output  # cumulative
                        if (repeated := _input_tokens(usage)) is not None:
                            prompt = repeated  # newer API versions repeat it here
                        if reason := (data.get("delta") or {}).get("stop_reason"):
                            finish = _FINISH.get(str(reason), "stop")
                if text:
                    yield ChatChunk(delta=text)
            else:
                raise events.cut("no message_stop")
        yield ChatChunk(finish_reason=finish, usage=_usage(prompt, completion))

    async def embed(self, cred: Credential, req: EmbedRequest) -> EmbedResult:
        raise ProviderError(
            self.name,
            "bad_request",
            f"{self.name} has no embeddings API: route embeddings to openai, gemini, cohere or another "
            "provider that has one.",
        )

    async def check_key(self, cred: Credential) -> LiveCheckOutcome:
        return await self._probe(cred, "GET", f"{self.base_url}/v1/models", headers=self._headers(cred))


def anthropic_messages(messages: tuple[ChatMessage, ...]) -> tuple[str, list[dict[str, Any]]]:
    """(system text, messages with alternating roles) for the Messages API."""
    system: list[str] = []
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for message in messages:
        if message.role == "system":
            if text := message.text():
                system.append(text)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    wire = [
        {
            "role": role,
            "content": blocks[0]["text"] if len(blocks) == 1 and blocks[0]["type"] == "text" else blocks,
        }
        for role, blocks in turns
    ]
    return "\n\n".join(system), wire


def _blocks(message: ChatMessage) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"type": "text", "text": message.content}] if message.content else []
    blocks: list[dict[str, Any]] = []
    for part in message.content:
        if part.type == "text":
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif inline := split_data_url(part.image_url):
            media_type, data = inline
            blocks.append(
                {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
            )
        else:
            blocks.append({"type": "image", "source": {"type": "url", "url": part.image_url}})
    return blocks


def _input_tokens(usage: dict[str, Any]) -> int | None:
    base = int_or_none(usage.get("input_tokens"))
    if base is None:
        return None
    cached = (int_or_none(usage.get("cache_creation_input_tokens")) or 0) + (
        int_or_none(usage.get("cache_read_input_tokens")) or 0
    )
    return base + cached


def _usage(prompt: int | None, completion: int | None) -> TokenUsage | None:
    if prompt is None or completion is None:
        return None
    return TokenUsage(prompt_tokens=prompt, completion_tokens=completion)
