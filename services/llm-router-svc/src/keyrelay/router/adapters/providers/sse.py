"""Server-sent events read from an aiohttp response body, with a deadline on every read.

A provider that stops sending must not hang the caller: the first read must finish by a
deadline fixed when the request was sent (the first-byte timeout) and every later read
within ``timeout`` seconds of the previous one. Lines are split here rather than with
``StreamReader.readline()``, whose size limit a long event can exceed.

The parser follows the WHATWG event-stream rules that providers use: ``event:`` and
``data:`` fields (several ``data:`` lines joined by newlines), ``:`` comments ignored,
``id:`` and ``retry:`` ignored, an event dispatched on a blank line. A last event that is
complete but not followed by a blank line when the body ends is still delivered; a last
line without its newline is dropped (the connection was cut inside it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

MAX_EVENT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str  # "" when the event had no `event:` field
    data: str


class SseTimeout(Exception):
    """No bytes arrived in time; `first` says whether it was the first read."""

    def __init__(self, *, first: bool) -> None:
        super().__init__("first byte" if first else "next chunk")
        self.first = first


class SseDisconnected(Exception):
    """The body ended abnormally (connection reset, incomplete chunked body, oversized event)."""


class SseReader:
    """Async iterator of `SseEvent`s; stops at the end of the body."""

    def __init__(self, content: aiohttp.StreamReader, *, first_deadline: float, timeout: float) -> None:
        self._content = content
        self._first_deadline = first_deadline
        self._timeout = timeout
        self._first = True
        self._buf = bytearray()
        self._pos = 0
        self._eof = False

    def __aiter__(self) -> SseReader:
        return self

    async def __anext__(self) -> SseEvent:
        event = await self.next_event()
        if event is None:
            raise StopAsyncIteration
        return event

    async def next_event(self) -> SseEvent | None:
        """The next event, or None once the body has ended."""
        name = ""
        data: list[str] = []
        while True:
            line = await self._read_line()
            if line is None:
                return SseEvent(name, "\n".join(data)) if data else None
            if not line:
                if data:
                    return SseEvent(name, "\n".join(data))
                name = ""
                continue
            if line[0] == 0x3A:  # ":" comment (keep-alive)
                continue
            field, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if field == b"data":
                data.append(value.decode("utf-8", "replace"))
            elif field == b"event":
                name = value.decode("utf-8", "replace")

    async def drain(self, seconds: float) -> bool:
        """Read what is left of the body for at most `seconds`; True if it ended (reusable)."""
        if self._eof:
            return True
        try:
            async with asyncio.timeout(seconds):
                while await self._content.readany():
                    pass
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False
        self._eof = True
        return True

    async def _read_line(self) -> bytes | None:
        while True:
            end = self._buf.find(b"\n", self._pos)
            if end >= 0:
                line = bytes(self._buf[self._pos : end])
                self._pos = end + 1
                return line[:-1] if line.endswith(b"\r") else line
            if self._pos:
                del self._buf[: self._pos]
                self._pos = 0
            if len(self._buf) > MAX_EVENT_BYTES:
                raise SseDisconnected(f"a line longer than {MAX_EVENT_BYTES} bytes")
            chunk = await self._read_chunk()
            if not chunk:
                return None
            self._buf += chunk

    async def _read_chunk(self) -> bytes:
        if self._eof:
            return b""
        loop = asyncio.get_running_loop()
        deadline = self._first_deadline if self._first else loop.time() + self._timeout
        try:
            async with asyncio.timeout_at(deadline):
                chunk = await self._content.readany()
        except TimeoutError:
            raise SseTimeout(first=self._first) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise SseDisconnected(type(exc).__name__) from None
        if chunk:
            self._first = False
        else:
            self._eof = True
        return chunk
