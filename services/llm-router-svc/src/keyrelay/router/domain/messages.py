"""The one internal shape of a model call, whatever the provider's wire format.

Provider adapters (adapters/providers/) translate these to and from OpenAI, Anthropic,
Gemini and Cohere formats; routing, cost and accounting only ever see these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ContentPart:
    type: Literal["text", "image_url"]
    text: str = ""
    image_url: str = ""  # https URL or data: URL


@dataclass(frozen=True)
class ChatMessage:
    role: str  # system | user | assistant | tool
    content: str | tuple[ContentPart, ...]
    name: str = ""

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if p.type == "text")


@dataclass(frozen=True)
class ChatRequest:
    model: str  # the provider's own model id (e.g. "gpt-4o-mini", not "openai/gpt-4o-mini")
    messages: tuple[ChatMessage, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False  # True when the provider reported none and we counted

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ChatResult:
    content: str
    finish_reason: str  # stop | length | content_filter | tool_calls | error
    usage: TokenUsage | None  # None: the provider did not report usage
    response_id: str = ""


@dataclass(frozen=True)
class ChatChunk:
    """One streamed piece: text, and on the last chunk the finish reason and usage."""

    delta: str = ""
    finish_reason: str = ""
    usage: TokenUsage | None = None


@dataclass(frozen=True)
class EmbedRequest:
    model: str
    inputs: tuple[str, ...]
    dimensions: int | None = None


@dataclass(frozen=True)
class EmbedResult:
    vectors: tuple[tuple[float, ...], ...]
    usage: TokenUsage | None


@dataclass(frozen=True)
class Credential:
    """What keyvault-svc resolved: the key, plus other fields (Azure endpoint, region)."""

    api_key: str
    fields: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print a key
        return f"Credential(api_key='***', fields={sorted(self.fields)})"


ErrorKind = Literal["auth", "bad_request", "rate_limited", "server", "timeout", "connection", "stream_cut"]


class ProviderError(Exception):
    """A provider call failed. `retryable` says whether failover may try another candidate:
    connection errors, timeouts, 429 and 5xx yes; 4xx request errors and bad keys no."""

    def __init__(
        self,
        provider: str,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in ("rate_limited", "server", "timeout", "connection")


@dataclass(frozen=True)
class LiveCheckOutcome:
    result: Literal["valid", "invalid", "unverified"]
    status: int = 0
    detail: str = ""
