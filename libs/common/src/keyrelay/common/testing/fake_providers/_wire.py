"""What every provider family shares: behaviours, the recorded request, the rendered output, the
deterministic embeddings, and the SSE writer that can cut a stream short."""

from __future__ import annotations

import hashlib
import json
import math
import re
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from aiohttp import web

# ---------------------------------------------------------------- public dataclasses


@dataclass
class Recorded:
    """One request as the fake provider received it.

    ``path`` is the full path (``/openai/v1/chat/completions``), ``headers`` have lower-case
    names, ``body`` is the parsed JSON (or None), ``api_key`` is the credential taken from where
    that provider expects it ("" when absent).
    """

    provider: str
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any
    api_key: str


@dataclass
class Ok:
    """Answer normally; ``text`` overrides echo/default text, ``usage=False`` leaves usage out."""

    text: str | None = None
    usage: bool = True


@dataclass
class Fail:
    """Answer ``status`` with the provider's own error JSON (and its way of saying retry-after)."""

    status: int
    message: str = ""
    retry_after: float | None = None


@dataclass
class Hang:
    """Accept the request and send nothing for ``seconds``; then answer normally (a slow upstream)."""

    seconds: float = 30.0


@dataclass
class CutStream:
    """Send the stream's opening events and ``after_chunks`` text chunks, then drop the connection.

    A non-streaming request gets a 200 with a Content-Length and half of its body.
    """

    after_chunks: int = 2


Behaviour = Ok | Fail | Hang | CutStream


class BadRequest(Exception):
    """A request the real provider would refuse with 400; each family renders it its own way."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=dumps(payload).encode(), status=status, headers=headers, content_type="application/json"
    )


def format_seconds(value: float) -> str:
    """``2`` for 2.0, ``0.5`` for 0.5: whole seconds as HTTP expects, fractions kept for fast tests."""
    return f"{value:g}"


# ---------------------------------------------------------------- rendering the answer

FinishReason = Literal["stop", "length", "stop_sequence"]
_WORD = re.compile(r"\s*\S+")


def count_words(texts: Iterable[str]) -> int:
    """The fake's token rule: whitespace-separated words."""
    return sum(len(t.split()) for t in texts)


@dataclass(frozen=True)
class Output:
    """The assistant's answer after stop sequences and the token limit, split into stream chunks."""

    text: str
    chunks: list[str]
    finish: FinishReason
    stop_sequence: str | None
    prompt_tokens: int
    completion_tokens: int
    usage: bool


@dataclass(frozen=True)
class Settings:
    echo: bool
    default_text: str
    chunk_words: int


@dataclass
class Call:
    """Everything a provider operation needs to answer one accepted request."""

    provider: str
    request: web.Request
    body: Any
    ok: Ok
    cut_after: int | None
    settings: Settings

    def render(self, prompt_texts: list[str], max_tokens: Any = None, stops: Any = None) -> Output:
        """The answer to a prompt made of ``prompt_texts`` (system and messages, in order)."""
        if self.ok.text is not None:
            text = self.ok.text
        elif self.settings.echo:
            text = "\n".join(t for t in prompt_texts if t)
        else:
            text = self.settings.default_text
        finish: FinishReason = "stop"
        stop_sequence = None
        if isinstance(stops, str):
            stops = [stops]
        for stop in stops or ():
            at = text.find(stop) if isinstance(stop, str) and stop else -1
            if at >= 0:
                text, finish, stop_sequence = text[:at], "stop_sequence", stop
        words = _WORD.findall(text)
        tail = text[sum(map(len, words)) :]
        if isinstance(max_tokens, int) and 0 <= max_tokens < len(words):
            words, tail, finish, stop_sequence = words[:max_tokens], "", "length", None
            text = "".join(words)
        size = max(1, self.settings.chunk_words)
        chunks = ["".join(words[i : i + size]) for i in range(0, len(words), size)]
        if tail:
            chunks = [*chunks[:-1], (chunks[-1] if chunks else "") + tail]
        return Output(
            text=text,
            chunks=chunks,
            finish=finish,
            stop_sequence=stop_sequence,
            prompt_tokens=count_words(prompt_texts),
            completion_tokens=len(words),
            usage=self.ok.usage,
        )


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of ``{"type": "text", "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


# ---------------------------------------------------------------- embeddings

_TOKEN = re.compile(r"\w+")
_SLOTS_PER_WORD = 4
_NOISE = 0.1  # norm of the dense part next to the unit word part


@lru_cache(maxsize=65536)
def _word_slots(word: str, dims: int) -> tuple[tuple[int, float], ...]:
    digest = hashlib.blake2b(word.encode(), digest_size=4 * _SLOTS_PER_WORD).digest()
    slots = []
    for i in range(_SLOTS_PER_WORD):
        n = int.from_bytes(digest[4 * i : 4 * i + 4], "little")
        slots.append((n % dims, 1.0 if n & 0x80000000 else -1.0))
    return tuple(slots)


def embed(text: str, dims: int) -> list[float]:
    """A deterministic, dense unit vector for ``text``.

    Bag-of-words feature hashing (each lower-cased word adds +-1 at a few hashed positions) plus
    a small dense component hashed from the whole text: texts that share words have a clearly
    positive cosine similarity, unrelated texts are near 0, identical texts are identical (RAG
    tests can rely on retrieval finding the passage that shares the question's words).
    """
    words = [0.0] * dims
    for word in _TOKEN.findall(text.lower()):
        for index, sign in _word_slots(word, dims):
            words[index] += sign
    noise = array("h", hashlib.shake_256(text.encode()).digest(2 * dims))
    word_norm = math.sqrt(sum(v * v for v in words))
    noise_norm = math.sqrt(sum(float(v) * v for v in noise)) or 1.0
    word_scale = 1.0 / word_norm if word_norm else 0.0
    noise_scale = (_NOISE if word_norm else 1.0) / noise_norm
    vector = [w * word_scale + n * noise_scale for w, n in zip(words, noise, strict=True)]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


# ---------------------------------------------------------------- streaming


@dataclass(frozen=True)
class Event:
    """One SSE event. ``stage`` places it in the stream: opening events, text chunks, closing events."""

    data: Any
    name: str | None = None
    stage: Literal["open", "text", "close"] = "text"


async def write_sse(call: Call, events: Iterable[Event], *, eol: str = "\n") -> web.StreamResponse:
    """Write ``events`` as ``text/event-stream``; under CutStream drop the connection once
    ``after_chunks`` text events are out, before anything else that is not an opening event."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(call.request)
    sent_text = 0
    for event in events:
        if call.cut_after is not None and event.stage != "open" and sent_text >= call.cut_after:
            return _drop(call.request, response)
        data = event.data if isinstance(event.data, str) else dumps(event.data)
        head = f"event: {event.name}{eol}" if event.name else ""
        await response.write(f"{head}data: {data}{eol}{eol}".encode())
        if event.stage == "text":
            sent_text += 1
    if call.cut_after is not None:
        return _drop(call.request, response)
    await response.write_eof()
    return response


async def write_json(call: Call, payload: Any, status: int = 200) -> web.StreamResponse:
    """A JSON answer; under CutStream a 200 that announces the full length and sends half of it."""
    if call.cut_after is None:
        return json_response(payload, status)
    body = dumps(payload).encode()
    response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(call.request)
    await response.write(body[: len(body) // 2])
    return _drop(call.request, response)


async def write_chunked_json(call: Call, items: list[Any]) -> web.StreamResponse:
    """A streamed JSON array (Gemini's streamGenerateContent without ``alt=sse``); under CutStream
    the last item, which carries the finish reason, never goes out."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(call.request)
    for i, item in enumerate(items):
        if call.cut_after is not None and (i >= call.cut_after or i == len(items) - 1):
            return _drop(call.request, response)
        await response.write((("[" if i == 0 else ",\r\n") + dumps(item)).encode())
    if call.cut_after is not None:
        return _drop(call.request, response)
    await response.write(b"]")
    await response.write_eof()
    return response


def _drop(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Close the connection with the body unfinished (no final chunk): the client sees a payload error."""
    if request.transport is not None:
        request.transport.close()
    return response


@dataclass(frozen=True)
class Family:
    """How one provider family authenticates and fails.

    ``credential`` takes the key from where the provider expects it; ``refuse`` answers the
    provider's auth error (or another refusal before any work) or None; ``error`` renders a status
    and message in the provider's error JSON.
    """

    credential: Callable[[web.Request], str]
    refuse: Callable[[web.Request, str, str, frozenset[str] | None], web.Response | None]
    error: Callable[..., web.Response]  # (status, message, retry_after, param=None)
