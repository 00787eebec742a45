"""The server: routes every provider family's paths, records requests, applies scripted behaviours,
and serves the ``/_control`` endpoints used from another process."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from . import anthropic, cohere, gemini, openai
from ._wire import (
    BadRequest,
    Behaviour,
    Call,
    CutStream,
    Fail,
    Family,
    Hang,
    Ok,
    Recorded,
    Settings,
    json_response,
)

MAX_RECORDED = 10_000
PROVIDERS = (*openai.OPENAI_COMPATIBLE, "azure-openai", "anthropic", "gemini", "cohere")
_PREFIX = {"azure-openai": "azure", "anthropic": "anthropic", "gemini": "gemini", "cohere": "cohere"}
_KINDS: dict[str, type[Behaviour]] = {"ok": Ok, "fail": Fail, "hang": Hang, "cut": CutStream}

Operation = Callable[[Call], Awaitable[web.StreamResponse]]


def _known(provider: str) -> str:
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
    return provider


class FakeProviders:
    """Local stand-ins for the AI providers, speaking each one's documented wire format.

    ``echo=True`` answers with the texts of the messages it was sent (system first), otherwise
    with ``Ok.text`` or ``default_text``. Tokens are whitespace-separated words: prompt tokens
    count the words of the system and message texts, completion tokens the words of the answer.
    Streams send ``chunk_words`` words per text chunk; ``latency`` delays every answer's first byte.
    """

    def __init__(
        self,
        *,
        echo: bool = False,
        default_text: str = "Hello from the fake provider.",
        chunk_words: int = 1,
        latency: float = 0.0,
    ) -> None:
        self.settings = Settings(echo=echo, default_text=default_text, chunk_words=chunk_words)
        self.latency = latency
        self._recorded: deque[Recorded] = deque(maxlen=MAX_RECORDED)
        self._scripts: dict[str, deque[Behaviour]] = {}
        self._valid: dict[str, frozenset[str]] = {}
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._stopping = asyncio.Event()

    # ------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._host = host
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeProviders:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("FakeProviders is not started")
        return f"http://{self._host}:{self._port}"

    def url(self, provider: str) -> str:
        """The base URL a client for ``provider`` is configured with (it appends its own paths)."""
        prefix = _PREFIX.get(_known(provider))
        return f"{self.base_url}/{prefix}" if prefix else f"{self.base_url}/{provider}/v1"

    # ------------------------------------------------------------ scripting and inspection

    def script(self, provider: str, *behaviours: Behaviour) -> None:
        """Queue behaviours for ``provider``; each accepted request takes the next (then Ok())."""
        self._scripts.setdefault(_known(provider), deque()).extend(behaviours)

    def valid_keys(self, provider: str, keys: set[str] | None) -> None:
        """Only ``keys`` authenticate for ``provider`` (None: any non-empty key does)."""
        if keys is None:
            self._valid.pop(_known(provider), None)
        else:
            self._valid[_known(provider)] = frozenset(keys)

    @property
    def requests(self) -> list[Recorded]:
        """The last ``MAX_RECORDED`` provider requests, oldest first (refused ones included)."""
        return list(self._recorded)

    def requests_for(self, provider: str) -> list[Recorded]:
        _known(provider)
        return [r for r in self._recorded if r.provider == provider]

    def reset(self) -> None:
        """Forget recorded requests, scripts and key restrictions."""
        self._recorded.clear()
        self._scripts.clear()
        self._valid.clear()

    # ------------------------------------------------------------ serving

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        compatible = "{name:" + "|".join(openai.OPENAI_COMPATIBLE) + "}"
        post, get = web.post, web.get
        app.add_routes(
            [
                post(
                    f"/{compatible}/v1/chat/completions", self._route(openai.OPENAI, openai.chat_completions)
                ),
                post(f"/{compatible}/v1/embeddings", self._route(openai.OPENAI, openai.embeddings)),
                get(f"/{compatible}/v1/models", self._route(openai.OPENAI, openai.models)),
                post(
                    "/azure/openai/deployments/{deployment}/chat/completions",
                    self._route(openai.AZURE, openai.chat_completions, "azure-openai"),
                ),
                post(
                    "/azure/openai/deployments/{deployment}/embeddings",
                    self._route(openai.AZURE, openai.embeddings, "azure-openai"),
                ),
                post(
                    "/anthropic/v1/messages",
                    self._route(anthropic.ANTHROPIC, anthropic.messages, "anthropic"),
                ),
                get("/anthropic/v1/models", self._route(anthropic.ANTHROPIC, anthropic.models, "anthropic")),
                post(
                    "/gemini/{version:v1beta|v1}/models/{target}",
                    self._route(gemini.GEMINI, gemini.model_action, "gemini"),
                ),
                get(
                    "/gemini/{version:v1beta|v1}/models", self._route(gemini.GEMINI, gemini.models, "gemini")
                ),
                post("/cohere/v2/chat", self._route(cohere.COHERE, cohere.chat, "cohere")),
                post("/cohere/v2/embed", self._route(cohere.COHERE, cohere.embed_texts, "cohere")),
                get("/cohere/v1/models", self._route(cohere.COHERE, cohere.models, "cohere")),
                post("/_control/script", self._control_script),
                post("/_control/valid-keys", self._control_valid_keys),
                get("/_control/requests", self._control_requests),
                post("/_control/reset", self._control_reset),
            ]
        )
        return app

    def _route(
        self, family: Family, operation: Operation, provider: str | None = None
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, provider or request.match_info["name"], family, operation)

        return handle

    async def _handle(
        self, request: web.Request, provider: str, family: Family, operation: Operation
    ) -> web.StreamResponse:
        raw = await request.read()
        body: Any = None
        malformed = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                malformed = True
        key = family.credential(request)
        headers = {name.lower(): value for name, value in request.headers.items()}
        self._recorded.append(
            Recorded(provider, request.method, request.path, headers, dict(request.query), body, key)
        )
        refusal = family.refuse(request, provider, key, self._valid.get(provider))
        if refusal is not None:
            return refusal
        if malformed:
            return family.error(400, "We could not parse the JSON body of your request.", None)
        script = self._scripts.get(provider)
        behaviour = script.popleft() if script else None
        if self.latency:
            await asyncio.sleep(self.latency)
        if isinstance(behaviour, Fail):
            return family.error(behaviour.status, behaviour.message, behaviour.retry_after)
        if isinstance(behaviour, Hang) and await self._hang(request, behaviour.seconds):
            return web.Response(status=503)  # the server is stopping; the connection is already closed
        call = Call(
            provider=provider,
            request=request,
            body=body,
            ok=behaviour if isinstance(behaviour, Ok) else Ok(),
            cut_after=behaviour.after_chunks if isinstance(behaviour, CutStream) else None,
            settings=self.settings,
        )
        try:
            return await operation(call)
        except BadRequest as exc:
            return family.error(400, exc.message, None, param=exc.param)

    async def _hang(self, request: web.Request, seconds: float) -> bool:
        """Wait ``seconds`` sending nothing; True (with the connection closed) if the server stops first."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        if request.transport is not None:
            request.transport.close()
        return True

    # ------------------------------------------------------------ control endpoints

    async def _control_script(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            behaviours = [_behaviour(item) for item in body.get("behaviours", [])]
            self.script(body["provider"], *behaviours)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            return json_response({"error": f"bad script: {exc}"}, 400)
        return json_response({"queued": len(behaviours)})

    async def _control_valid_keys(self, request: web.Request) -> web.Response:
        body = await request.json()
        keys = body.get("keys")
        try:
            self.valid_keys(body["provider"], None if keys is None else set(keys))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            return json_response({"error": f"bad valid-keys: {exc}"}, 400)
        return json_response({"ok": True})

    async def _control_requests(self, request: web.Request) -> web.Response:
        provider = request.query.get("provider")
        recorded = (
            self.requests if provider is None else [r for r in self._recorded if r.provider == provider]
        )
        return json_response([dataclasses.asdict(r) for r in recorded])

    async def _control_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return json_response({"ok": True})


def _behaviour(item: dict[str, Any]) -> Behaviour:
    fields = dict(item)
    kind = _KINDS[fields.pop("kind")]
    return kind(**fields)
