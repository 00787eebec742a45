"""The adapter interface, and the HTTP plumbing every protocol shares.

Adapters only translate: `ChatRequest` to the provider's body and its answer back to
`ChatResult` / `ChatChunk`s. Sending, timeouts and turning failures into `ProviderError`
happen here, once:

- one shared `aiohttp.ClientSession` (created by the service's lifespan) for every provider;
- per request: a connect timeout; for plain calls a deadline on the whole call; for streams
  a first-byte deadline (from sending to the first body bytes) and then a deadline between
  reads, so a stalled provider cannot hang a stream;
- redirects are never followed: a redirect would carry `x-api-key`-style headers, which
  aiohttp does not strip, to another host;
- the API key never appears in an exception, a `LiveCheckOutcome` or a log line: messages
  are built from the status and the provider's error text, with the key (and anything
  shaped like a key) masked, and aiohttp's exceptions (whose request info holds the
  headers) are not chained.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any, ClassVar

import aiohttp
from yarl import URL

from keyrelay.common.logging import redact
from keyrelay.router.adapters.providers.sse import SseDisconnected, SseEvent, SseReader, SseTimeout
from keyrelay.router.domain.messages import (
    ChatChunk,
    ChatRequest,
    ChatResult,
    Credential,
    EmbedRequest,
    EmbedResult,
    ErrorKind,
    LiveCheckOutcome,
    ProviderError,
)

_DETAIL_CHARS = 300
_DRAIN_SECONDS = 1.0
_GOOGLE_DELAY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)s\s*$")


class ProviderAdapter(ABC):
    """One provider (by name) spoken to in one protocol, at one base URL."""

    protocol: ClassVar[str] = ""

    def __init__(
        self,
        name: str,
        base_url: str,
        session: aiohttp.ClientSession,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        first_byte_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.first_byte_timeout = first_byte_timeout
        self._session = session
        # total=None: the session's default total (300 s) must not cut long streams; our own
        # deadlines below bound every call.
        self._client_timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"

    @abstractmethod
    async def chat(self, cred: Credential, req: ChatRequest) -> ChatResult: ...

    @abstractmethod
    def chat_stream(self, cred: Credential, req: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Text chunks, then one last chunk with the finish reason and usage (None if unreported).

        Errors before the first chunk (refused key, 429, ...) are raised by the first
        `__anext__`. Close the iterator (`contextlib.aclosing`) when stopping early.
        """

    @abstractmethod
    async def embed(self, cred: Credential, req: EmbedRequest) -> EmbedResult: ...

    @abstractmethod
    async def check_key(self, cred: Credential) -> LiveCheckOutcome:
        """The cheapest documented authenticated call: valid, invalid (401/403), or unverified."""

    # ------------------------------------------------------------------ HTTP helpers

    async def _request_json(
        self,
        cred: Credential,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """One call with a deadline on the whole of it; the decoded JSON body of a 2xx answer."""
        return (await self._call(cred, method, url, headers=headers, body=body, params=params))[1]

    async def _call(
        self,
        cred: Credential,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Any = None,
        params: Mapping[str, str] | None = None,
        decode: bool = True,
    ) -> tuple[int, Any]:
        self._check_key_shape(cred)
        try:
            async with asyncio.timeout(self.timeout):
                async with self._session.request(
                    method,
                    url,
                    json=body,
                    headers=headers,
                    params=params,
                    timeout=self._client_timeout,
                    allow_redirects=False,
                    raise_for_status=False,
                ) as resp:
                    raw = await resp.read()
                    status, resp_headers = resp.status, resp.headers
        except TimeoutError as exc:
            raise self._timeout_error(exc, "answer", self.timeout) from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise self._connection_error(cred, url, exc) from None
        if status >= 300:
            raise self._http_error(cred, status, raw, resp_headers)
        if not decode:
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError:
            raise ProviderError(
                self.name,
                "server",
                f"{self.name} answered HTTP {status} with a body that is not JSON. "
                "The provider or a proxy in front of it is misbehaving: retry later or fail over.",
                status=status,
            ) from None

    @asynccontextmanager
    async def _open_stream(
        self,
        cred: Credential,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Any,
        params: Mapping[str, str] | None = None,
    ) -> AsyncIterator[EventStream]:
        """POST and read the answer as server-sent events; errors before the body are raised here.

        Leaving the block normally means the final event was seen: the rest of the body is
        drained so the connection goes back to the pool. Leaving with an exception (or by
        `aclose()`) closes the connection.
        """
        self._check_key_shape(cred)
        loop = asyncio.get_running_loop()
        first_deadline = loop.time() + self.first_byte_timeout
        try:
            async with asyncio.timeout_at(first_deadline):
                resp = await self._session.post(
                    url,
                    json=body,
                    headers=headers,
                    params=params,
                    timeout=self._client_timeout,
                    allow_redirects=False,
                    raise_for_status=False,
                )
        except TimeoutError as exc:
            raise self._timeout_error(exc, "first byte", self.first_byte_timeout) from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise self._connection_error(cred, url, exc) from None
        finished = False
        try:
            if resp.status >= 300:
                try:
                    async with asyncio.timeout_at(first_deadline):
                        raw = await resp.read()
                except (TimeoutError, aiohttp.ClientError, OSError):
                    raw = b""
                raise self._http_error(cred, resp.status, raw, resp.headers)
            reader = SseReader(resp.content, first_deadline=first_deadline, timeout=self.timeout)
            yield EventStream(self, reader)
            finished = await reader.drain(_DRAIN_SECONDS)
        finally:
            if finished:
                resp.release()
            else:
                resp.close()

    async def _probe(
        self,
        cred: Credential,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> LiveCheckOutcome:
        """check_key's call: never raises, and never says "invalid" unless the key was refused."""
        try:
            status, _ = await self._call(
                cred, method, url, headers=headers, body=body, params=params, decode=False
            )
        except ProviderError as exc:
            status = exc.status or 0
            if exc.kind == "auth":
                return LiveCheckOutcome("invalid", status, exc.message)
            return LiveCheckOutcome("unverified", status, exc.message)
        return LiveCheckOutcome("valid", status, f"{self.name} accepted the key (HTTP {status})")

    # ------------------------------------------------------------------ errors

    @contextmanager
    def _parsing(self, what: str) -> Iterator[None]:
        """Turn a provider answer of an unexpected shape into a ProviderError, not a KeyError."""
        try:
            yield
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise ProviderError(
                self.name,
                "server",
                f"{self.name} sent {what} of an unexpected shape ({type(exc).__name__}). "
                "The provider's API may have changed or a proxy is in the way: retry or fail over.",
            ) from None

    def _count_mismatch(self, asked: int, got: int) -> ProviderError:
        return ProviderError(
            self.name,
            "server",
            f"{self.name} returned {got} embeddings for {asked} inputs. Retry, or fail over.",
        )

    def _check_key_shape(self, cred: Credential) -> None:
        if any(ch in cred.api_key for ch in "\r\n\0"):
            raise ProviderError(
                self.name,
                "auth",
                f"the stored {self.name} key contains a line break or NUL character and cannot be "
                "sent in a header: store the key again without them.",
            )

    def _safe(self, text: str, cred: Credential | None = None) -> str:
        """Provider-supplied text fit for a message: one line, short, with no key in it."""
        text = " ".join(text.split())
        if cred is not None and len(cred.api_key) >= 4:
            text = text.replace(cred.api_key, "***")
        text = redact(text)
        return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"

    def _is_auth_failure(self, status: int, payload: Any) -> bool:
        """Whether an error answer means the key was refused (Gemini also uses 400 for this)."""
        return status in (401, 403, 498)

    def _http_error(
        self, cred: Credential, status: int, raw: bytes, headers: Mapping[str, str]
    ) -> ProviderError:
        payload: Any = None
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        detail = self._safe(error_detail(payload, raw), cred)
        what = f"{self.name} answered HTTP {status}" + (f" ({detail})" if detail else "")
        retry_after: float | None = None
        kind: ErrorKind
        if self._is_auth_failure(status, payload):
            kind = "auth"
            advice = (
                f"The {self.name} key was refused: check that it is current and allowed to use this "
                "model, or replace it."
            )
        elif status == 429:
            kind = "rate_limited"
            retry_after = parse_retry_after(headers, payload)
            wait = f"retry after {retry_after:g}s" if retry_after is not None else "retry later"
            advice = f"Rate limit or quota reached for this key: {wait}, or use another key or provider."
        elif status == 402:
            kind = "rate_limited"
            advice = (
                "The account behind this key is out of credit: top it up, or use another key or provider."
            )
        elif status == 408:
            kind = "timeout"
            advice = "The provider timed out the request: retry, or fail over to another provider."
        elif status >= 500:
            kind = "server"
            advice = "The failure is on the provider's side: retry later or fail over to another provider."
        elif 300 <= status < 400:
            kind = "connection"
            location = self._safe(headers.get("location", ""), cred)
            advice = (
                f"Redirects are not followed (they would carry the key elsewhere; to {location or '?'}): "
                f"check the {self.name} base URL."
            )
        else:
            kind = "bad_request"
            if status == 404:
                advice = (
                    "Not found: check the model id (for Azure, the deployment name) and the base URL; "
                    "retrying will not help."
                )
            else:
                advice = (
                    "The request was refused as invalid: check the model id and parameters; "
                    "retrying will not help."
                )
        return ProviderError(self.name, kind, f"{what}. {advice}", status=status, retry_after=retry_after)

    def _timeout_error(self, exc: BaseException, phase: str, seconds: float) -> ProviderError:
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            phase, seconds = "connect", self.connect_timeout
        return ProviderError(
            self.name,
            "timeout",
            f"{self.name} gave no {phase} within {seconds:g}s. The provider is slow or unreachable: "
            "fail over to another provider, or raise the timeout.",
        )

    def _connection_error(self, cred: Credential, url: str, exc: BaseException) -> ProviderError:
        try:
            host = URL(url).host or url
        except ValueError:
            host = "an invalid URL"
        reason = self._safe(f"{type(exc).__name__}: {exc}", cred)
        return ProviderError(
            self.name,
            "connection",
            f"could not reach {self.name} at {host} ({reason}). Check the base URL and the network; "
            "failing over to another provider is safe.",
        )

    def _stream_error(self, cred: Credential, event: dict[str, Any], after: int) -> ProviderError:
        """An error reported inside a stream (Anthropic `error` events, OpenRouter, Gemini)."""
        err = event.get("error")
        code = err.get("code") if isinstance(err, dict) else None
        etype = str(err.get("type") or err.get("status") or "") if isinstance(err, dict) else ""
        detail = self._safe(error_detail(event, b""), cred)
        kind: ErrorKind
        if isinstance(code, int) and code >= 400:
            if self._is_auth_failure(code, event):
                kind = "auth"
            elif code in (402, 429):
                kind = "rate_limited"
            else:
                kind = "server" if code >= 500 else "bad_request"
        elif etype in ("rate_limit_error", "RESOURCE_EXHAUSTED"):
            kind = "rate_limited"
        elif etype in ("authentication_error", "permission_error", "PERMISSION_DENIED", "UNAUTHENTICATED"):
            kind = "auth"
        elif etype in ("invalid_request_error", "not_found_error", "INVALID_ARGUMENT", "NOT_FOUND"):
            kind = "bad_request"
        else:
            kind = "server"
        return ProviderError(
            self.name,
            kind,
            f"{self.name} reported an error in the stream after {after} events ({detail or 'no detail'}). "
            "The answer is incomplete: do not use the partial text; retry or fail over.",
            status=code if isinstance(code, int) else None,
        )


class EventStream:
    """The events of one streamed answer, with read errors turned into `ProviderError`s."""

    def __init__(self, adapter: ProviderAdapter, reader: SseReader) -> None:
        self._adapter = adapter
        self._reader = reader
        self.count = 0

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> SseEvent:
        name = self._adapter.name
        try:
            event = await self._reader.next_event()
        except SseTimeout as exc:
            if exc.first:
                raise self._adapter._timeout_error(
                    exc, "first byte", self._adapter.first_byte_timeout
                ) from None
            raise ProviderError(
                name,
                "timeout",
                f"{name} sent nothing for {self._adapter.timeout:g}s in the middle of a stream "
                f"(after {self.count} events). The answer is incomplete: retry or fail over.",
            ) from None
        except SseDisconnected as exc:
            raise self.cut(f"the connection dropped ({exc})") from None
        if event is None:
            raise StopAsyncIteration
        self.count += 1
        return event

    def cut(self, why: str) -> ProviderError:
        name = self._adapter.name
        return ProviderError(
            name,
            "stream_cut",
            f"the {name} stream ended before its final event after {self.count} events: {why}. "
            "The answer is incomplete: do not use the partial text; retry the request.",
        )

    def json(self, event: SseEvent) -> Any:
        try:
            return json.loads(event.data)
        except ValueError:
            name = self._adapter.name
            raise ProviderError(
                name,
                "server",
                f"{name} sent a stream event that is not JSON (event {self.count}). "
                "The provider or a proxy in front of it is misbehaving: retry or fail over.",
            ) from None


# ---------------------------------------------------------------------- helpers


def error_detail(payload: Any, raw: bytes) -> str:
    """The provider's own explanation from an error body, in its usual places."""
    if isinstance(payload, list) and payload:  # Gemini streams errors as a one-item list
        payload = payload[0]
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict):
            label = err.get("type") or err.get("status") or err.get("code") or ""
            message = err.get("message") or ""
            if not isinstance(message, str):
                message = json.dumps(message)
            return f"{label}: {message}" if label and message else str(label or message)
        if isinstance(err, str):
            return err
        for field in ("message", "detail", "error_message"):
            value = payload.get(field)
            if value:
                return value if isinstance(value, str) else json.dumps(value)
        return ""
    if raw:
        text = raw[:400].decode("utf-8", "replace")
        return "non-JSON body: " + text if text.strip() else ""
    return ""


def parse_retry_after(headers: Mapping[str, str], payload: Any = None) -> float | None:
    """Seconds to wait, from `retry-after-ms`, `retry-after` (seconds or HTTP date) or Google's RetryInfo."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None and when.tzinfo is not None:
                return max(0.0, when.timestamp() - time.time())
    err = payload.get("error") if isinstance(payload, dict) else None
    details = err.get("details") if isinstance(err, dict) else None
    for item in details if isinstance(details, list) else ():
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = _GOOGLE_DELAY.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def sampling(
    req: ChatRequest,
    *,
    max_tokens: str = "max_tokens",
    temperature: str = "temperature",
    top_p: str = "top_p",
    stop: str = "stop",
) -> dict[str, Any]:
    """The request's optional sampling settings under each provider's own field names."""
    fields: dict[str, Any] = {}
    if req.max_tokens is not None:
        fields[max_tokens] = req.max_tokens
    if req.temperature is not None:
        fields[temperature] = req.temperature
    if req.top_p is not None:
        fields[top_p] = req.top_p
    if req.stop:
        fields[stop] = list(req.stop)
    return fields


def bearer_headers(cred: Credential) -> dict[str, str]:
    """`Authorization: Bearer`, left out when there is no key (self-hosted servers)."""
    return {"Authorization": f"Bearer {cred.api_key}"} if cred.api_key else {}


def split_data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URL, else None."""
    if not url.startswith("data:"):
        return None
    header, sep, data = url[5:].partition(",")
    if not sep or not header.endswith(";base64"):
        return None
    return header[: -len(";base64")] or "application/octet-stream", data


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
