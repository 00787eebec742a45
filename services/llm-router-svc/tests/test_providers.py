"""Provider adapters against the fake providers (real HTTP on 127.0.0.1, each provider's wire format)."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
import traceback
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, get_args

import aiohttp
import pytest
from aiohttp import web

from keyrelay.common.testing.fake_providers import CutStream, Fail, FakeProviders, Hang, Ok
from keyrelay.router.adapters.providers import DEFAULT_BASE_URLS, ProviderAdapter, build_adapter
from keyrelay.router.adapters.providers.anthropic import AnthropicAdapter
from keyrelay.router.adapters.providers.azure_openai import AzureOpenAIAdapter
from keyrelay.router.adapters.providers.cohere import CohereAdapter
from keyrelay.router.adapters.providers.gemini import GeminiAdapter
from keyrelay.router.adapters.providers.openai_compat import OpenAICompatAdapter
from keyrelay.router.domain.messages import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    Credential,
    EmbedRequest,
    ErrorKind,
    ProviderError,
)


@dataclass(frozen=True)
class Case:
    provider: str
    model: str
    embed_model: str | None

    @property
    def protocol(self) -> str:
        return DEFAULT_BASE_URLS[self.provider][0]


CASES = [
    Case("openai", "gpt-4o-mini", "text-embedding-3-small"),
    Case("anthropic", "claude-3-5-haiku-20241022", None),
    Case("gemini", "gemini-2.0-flash", "text-embedding-004"),
    Case("cohere", "command-a-03-2025", "embed-v4.0"),
    Case("azure-openai", "my-gpt-4o-deployment", "my-embedding-deployment"),
]
EMBED_CASES = [c for c in CASES if c.embed_model]
# The fake does not serve Azure's `GET /openai/models`; Azure's check_key is tested against odd_server.
CHECK_CASES = [c for c in CASES if c.provider != "azure-openai"]
by_protocol = pytest.mark.parametrize("case", CASES, ids=[c.provider for c in CASES])


def new_key() -> str:
    return "sk-" + secrets.token_hex(20)


def ask(text: str = "Say hello.", *, system: str = "", max_tokens: int | None = None) -> ChatRequest:
    messages = ((ChatMessage("system", system),) if system else ()) + (ChatMessage("user", text),)
    return ChatRequest(model="", messages=messages, max_tokens=max_tokens)


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    async with FakeProviders() as providers:
        yield providers


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def connect(
    fake: FakeProviders, session: aiohttp.ClientSession, case: Case, key: str | None = None, **timeouts: float
) -> tuple[ProviderAdapter, Credential]:
    key = new_key() if key is None else key
    if case.protocol == "azure-openai":  # the endpoint travels with the key
        adapter = build_adapter(case.provider, case.protocol, "", session, **timeouts)
        return adapter, Credential(key, {"endpoint": fake.url(case.provider)})
    return build_adapter(
        case.provider, case.protocol, fake.url(case.provider), session, **timeouts
    ), Credential(key)


def with_model(req: ChatRequest, case: Case) -> ChatRequest:
    return ChatRequest(case.model, req.messages, req.max_tokens, req.temperature, req.top_p, req.stop)


async def stream(adapter: ProviderAdapter, cred: Credential, req: ChatRequest) -> list[ChatChunk]:
    async with asyncio.timeout(10):
        return [chunk async for chunk in adapter.chat_stream(cred, req)]


async def failure(call: Awaitable[Any]) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        async with asyncio.timeout(10):
            await call
    return info.value


async def stream_failure(adapter: ProviderAdapter, cred: Credential, req: ChatRequest) -> ProviderError:
    return await failure(stream(adapter, cred, req))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------- chat


@by_protocol
async def test_stream_gives_the_same_text_and_usage_as_chat(fake, session, case):
    adapter, cred = connect(fake, session, case)
    text = "The quick brown fox jumps over the lazy dog."
    fake.script(case.provider, Ok(text=text), Ok(text=text))
    req = with_model(ask("Tell me about foxes."), case)

    result = await adapter.chat(cred, req)
    chunks = await stream(adapter, cred, req)

    assert result.content == text
    assert result.finish_reason == "stop"
    assert result.usage is not None and result.usage.completion_tokens == 9
    assert "".join(c.delta for c in chunks) == text
    assert len(chunks) > 2  # streamed in pieces, not buffered
    assert [c.finish_reason for c in chunks[:-1]] == [""] * (len(chunks) - 1)
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage == result.usage
    assert all(c.usage is None for c in chunks[:-1])


@by_protocol
async def test_the_key_reaches_the_provider_its_own_way(fake, session, case):
    adapter, cred = connect(fake, session, case)
    fake.valid_keys(case.provider, {cred.api_key})
    req = with_model(ask(), case)
    await adapter.chat(cred, req)
    await stream(adapter, cred, req)

    recorded = fake.requests_for(case.provider)
    assert len(recorded) == 2
    for r in recorded:
        assert r.api_key == cred.api_key
        assert cred.api_key not in r.path
        assert all(cred.api_key not in v for v in r.query.values())
        header = {
            "openai": ("authorization", f"Bearer {cred.api_key}"),
            "cohere": ("authorization", f"Bearer {cred.api_key}"),
            "anthropic": ("x-api-key", cred.api_key),
            "gemini": ("x-goog-api-key", cred.api_key),
            "azure-openai": ("api-key", cred.api_key),
        }[case.provider]
        assert r.headers[header[0]] == header[1]
    if case.provider == "anthropic":
        assert all(r.headers["anthropic-version"] == "2023-06-01" for r in recorded)
    if case.provider == "gemini":
        assert "key" not in recorded[0].query and "key" not in recorded[1].query
        assert recorded[1].query == {"alt": "sse"}
        assert recorded[0].path == "/gemini/v1beta/models/gemini-2.0-flash:generateContent"
    if case.provider == "azure-openai":
        assert recorded[0].path == "/azure/openai/deployments/my-gpt-4o-deployment/chat/completions"
        assert recorded[0].query == {"api-version": "2024-10-21"}


async def test_openai_stream_asks_for_usage_and_mistral_is_not_sent_stream_options(fake, session):
    for provider in ("openai", "mistral"):
        adapter = build_adapter(provider, "openai", fake.url(provider), session)
        chunks = await stream(adapter, Credential(new_key()), ChatRequest("m", (ChatMessage("user", "hi"),)))
        body = fake.requests_for(provider)[-1].body
        assert body["stream"] is True
        if provider == "openai":
            assert body["stream_options"] == {"include_usage": True}
            assert chunks[-1].usage is not None
        else:
            assert "stream_options" not in body


async def test_self_hosted_server_without_a_key_gets_no_authorization_header(fake, session):
    adapter = build_adapter("ollama", "openai", fake.url("ollama"), session)
    result = await adapter.chat(Credential(""), ChatRequest("llama3.2:latest", (ChatMessage("user", "hi"),)))
    assert result.content
    assert "authorization" not in fake.requests_for("ollama")[0].headers


async def test_anthropic_gets_system_top_level_merged_turns_and_default_max_tokens(fake, session):
    adapter, cred = connect(fake, session, CASES[1])
    req = ChatRequest(
        "claude-3-5-haiku-20241022",
        (
            ChatMessage("system", "Be brief."),
            ChatMessage("user", "First."),
            ChatMessage("user", "Second."),
            ChatMessage("assistant", "Ok."),
            ChatMessage("user", "Third."),
        ),
        stop=("END",),
    )
    await adapter.chat(cred, req)
    body = fake.requests_for("anthropic")[0].body
    assert body["system"] == "Be brief."
    assert body["max_tokens"] == 1024
    assert body["stop_sequences"] == ["END"]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "First."},
        {"type": "text", "text": "Second."},
    ]


async def test_gemini_gets_system_instruction_generation_config_and_model_role(fake, session):
    adapter, cred = connect(fake, session, CASES[2])
    req = ChatRequest(
        "gemini-2.0-flash",
        (ChatMessage("system", "Be brief."), ChatMessage("user", "Hi."), ChatMessage("assistant", "Hello.")),
        max_tokens=50,
        temperature=0.2,
        top_p=0.9,
        stop=("END",),
    )
    await adapter.chat(cred, req)
    body = fake.requests_for("gemini")[0].body
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hi."}]},
        {"role": "model", "parts": [{"text": "Hello."}]},
    ]
    assert body["generationConfig"] == {
        "maxOutputTokens": 50,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["END"],
    }


async def test_openai_and_cohere_keep_the_system_message_in_messages(fake, session):
    for case in (CASES[0], CASES[3]):
        adapter, cred = connect(fake, session, case)
        await adapter.chat(cred, with_model(ask("Hi.", system="Be brief."), case))
        messages = fake.requests_for(case.provider)[0].body["messages"]
        assert messages[0] == {"role": "system", "content": "Be brief."}


@by_protocol
async def test_max_tokens_reached_finishes_with_length(fake, session, case):
    adapter, cred = connect(fake, session, case)
    fake.script(case.provider, Ok(text="one two three four five six"), Ok(text="one two three four five six"))
    req = with_model(ask(max_tokens=2), case)

    result = await adapter.chat(cred, req)
    chunks = await stream(adapter, cred, req)

    assert (result.content, result.finish_reason) == ("one two", "length")
    assert "".join(c.delta for c in chunks) == "one two"
    assert chunks[-1].finish_reason == "length"


@by_protocol
async def test_usage_is_none_when_the_provider_reports_none(fake, session, case):
    adapter, cred = connect(fake, session, case)
    fake.script(case.provider, Ok(usage=False), Ok(usage=False))
    req = with_model(ask(), case)

    result = await adapter.chat(cred, req)
    chunks = await stream(adapter, cred, req)

    assert result.content and result.usage is None
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is None


# ---------------------------------------------------------------------- errors


@by_protocol
async def test_a_refused_key_is_an_auth_error_that_is_not_retried(fake, session, case):
    adapter, cred = connect(fake, session, case)
    fake.valid_keys(case.provider, {new_key()})
    req = with_model(ask(), case)

    for error in (await failure(adapter.chat(cred, req)), await stream_failure(adapter, cred, req)):
        assert error.kind == "auth"
        assert not error.retryable
        assert error.provider == case.provider
        assert case.provider in error.message and str(error.status) in error.message
        assert "key" in error.message  # says what to do about it


@by_protocol
async def test_429_is_rate_limited_with_retry_after(fake, session, case):
    adapter, cred = connect(fake, session, case)
    fake.script(case.provider, Fail(429, retry_after=7), Fail(429, retry_after=7))
    req = with_model(ask(), case)

    for error in (await failure(adapter.chat(cred, req)), await stream_failure(adapter, cred, req)):
        assert (error.kind, error.status) == ("rate_limited", 429)
        assert error.retryable
        # Cohere documents no retry-after; Gemini sends it as a RetryInfo detail, the others as a header.
        assert error.retry_after == (None if case.provider == "cohere" else 7.0)


@by_protocol
async def test_5xx_is_a_retryable_server_error(fake, session, case):
    adapter, cred = connect(fake, session, case)
    fake.script(case.provider, Fail(500), Fail(503))
    req = with_model(ask(), case)

    for error in (await failure(adapter.chat(cred, req)), await stream_failure(adapter, cred, req)):
        assert error.kind == "server" and error.retryable
        assert "500" in error.message or "503" in error.message


async def test_anthropic_529_overloaded_is_a_server_error(fake, session):
    adapter, cred = connect(fake, session, CASES[1])
    fake.script("anthropic", Fail(529))
    error = await failure(adapter.chat(cred, with_model(ask(), CASES[1])))
    assert (error.kind, error.status) == ("server", 529)


async def test_404_is_a_bad_request_that_is_not_retried(fake, session):
    adapter, cred = connect(fake, session, CASES[0])
    fake.script("openai", Fail(404))
    error = await failure(adapter.chat(cred, with_model(ask(), CASES[0])))
    assert error.kind == "bad_request" and not error.retryable
    assert "model id" in error.message


@by_protocol
async def test_a_hanging_provider_times_out(fake, session, case):
    adapter, cred = connect(fake, session, case, timeout=0.3, first_byte_timeout=0.3)
    fake.script(case.provider, Hang(5), Hang(5))
    req = with_model(ask(), case)

    started = time.monotonic()
    for error in (await failure(adapter.chat(cred, req)), await stream_failure(adapter, cred, req)):
        assert error.kind == "timeout" and error.retryable
        assert "0.3s" in error.message
    assert time.monotonic() - started < 3


@by_protocol
async def test_a_cut_stream_raises_stream_cut_after_the_chunks_it_got(fake, session, case):
    adapter, cred = connect(fake, session, case)
    fake.script(case.provider, CutStream(after_chunks=2))
    got: list[str] = []

    async def consume() -> None:
        async for chunk in adapter.chat_stream(cred, with_model(ask(), case)):
            got.append(chunk.delta)

    error = await failure(consume())
    assert error.kind == "stream_cut"
    assert not error.retryable  # chunks went out: the router must not retry it
    assert got == ["Hello", " from"]


async def test_a_body_cut_short_on_a_plain_call_is_a_connection_error(fake, session):
    adapter, cred = connect(fake, session, CASES[0])
    fake.script("openai", CutStream())
    error = await failure(adapter.chat(cred, with_model(ask(), CASES[0])))
    assert error.kind == "connection" and error.retryable


async def test_an_unreachable_provider_is_a_connection_error(session):
    adapter = build_adapter("vllm", "openai", f"http://127.0.0.1:{closed_port()}/v1", session)
    error = await failure(adapter.chat(Credential(new_key()), ChatRequest("m", (ChatMessage("user", "hi"),))))
    assert error.kind == "connection" and error.retryable
    assert "127.0.0.1" in error.message


# A tiny local server for what the fake does not do: stall in the middle of a stream, redirect.


@pytest.fixture
async def odd_server() -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n')
        await asyncio.sleep(10)
        return response

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"http://{request.host}/elsewhere/chat/completions")

    async def azure_models(request: web.Request) -> web.Response:
        if request.query.get("api-version") != "2024-10-21":
            return web.json_response({"error": {"code": "404", "message": "Resource not found"}}, status=404)
        key = request.headers.get("api-key", "")
        if key.startswith("good-"):
            return web.json_response({"data": []})
        if key.startswith("busy-"):
            return web.json_response({"error": {"code": "500", "message": "busy"}}, status=500)
        return web.json_response({"error": {"code": "401", "message": "Access denied"}}, status=401)

    async def elsewhere(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Authorization", ""))
        return web.json_response({"choices": [{"message": {"content": "leaked"}}]})

    app = web.Application()
    app.router.add_post("/stall/chat/completions", stall)
    app.router.add_post("/redirect/chat/completions", redirect)
    app.router.add_post("/elsewhere/chat/completions", elsewhere)
    app.router.add_get("/azure/openai/models", azure_models)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", hits
    finally:
        await runner.cleanup()


async def test_a_stream_that_stalls_midway_times_out(session, odd_server):
    base, _ = odd_server
    adapter = build_adapter("vllm", "openai", f"{base}/stall", session, timeout=0.3)
    got: list[str] = []

    async def consume() -> None:
        async for chunk in adapter.chat_stream(
            Credential(""), ChatRequest("m", (ChatMessage("user", "hi"),))
        ):
            got.append(chunk.delta)

    error = await failure(consume())
    assert got == ["Hi"]
    assert error.kind == "timeout" and "middle of a stream" in error.message


async def test_redirects_are_not_followed(session, odd_server):
    base, hits = odd_server
    adapter = build_adapter("vllm", "openai", f"{base}/redirect", session)
    error = await failure(adapter.chat(Credential(new_key()), ChatRequest("m", (ChatMessage("user", "hi"),))))
    assert error.kind == "connection" and "307" in error.message
    assert hits == []


# ---------------------------------------------------------------------- embeddings


@pytest.mark.parametrize("case", EMBED_CASES, ids=[c.provider for c in EMBED_CASES])
async def test_embeddings_come_back_in_order_with_the_asked_dimensions(fake, session, case):
    adapter, cred = connect(fake, session, case)
    texts = ("red apples", "green pears", "red apples")
    result = await adapter.embed(cred, EmbedRequest(case.embed_model or "", texts, dimensions=64))

    assert len(result.vectors) == 3
    assert all(len(v) == 64 for v in result.vectors)
    assert result.vectors[0] == result.vectors[2] != result.vectors[1]
    if case.provider == "gemini":  # batchEmbedContents reports no token counts
        assert result.usage is None
    else:
        assert result.usage is not None and result.usage.prompt_tokens == 6


async def test_embedding_usage_is_none_when_not_reported(fake, session):
    adapter, cred = connect(fake, session, CASES[0])
    fake.script("openai", Ok(usage=False))
    result = await adapter.embed(cred, EmbedRequest("text-embedding-3-small", ("a b",)))
    assert len(result.vectors) == 1 and result.usage is None


async def test_anthropic_has_no_embeddings(fake, session):
    adapter, cred = connect(fake, session, CASES[1])
    error = await failure(adapter.embed(cred, EmbedRequest("claude", ("x",))))
    assert error.kind == "bad_request" and not error.retryable
    assert fake.requests_for("anthropic") == []


async def test_gemini_embeddings_use_batch_embed_contents(fake, session):
    adapter, cred = connect(fake, session, CASES[2])
    await adapter.embed(cred, EmbedRequest("text-embedding-004", ("a", "b"), dimensions=8))
    recorded = fake.requests_for("gemini")[0]
    assert recorded.path == "/gemini/v1beta/models/text-embedding-004:batchEmbedContents"
    assert recorded.body["requests"][0] == {
        "model": "models/text-embedding-004",
        "content": {"parts": [{"text": "a"}]},
        "outputDimensionality": 8,
    }


# ---------------------------------------------------------------------- check_key


@pytest.mark.parametrize("case", CHECK_CASES, ids=[c.provider for c in CHECK_CASES])
async def test_check_key_valid_invalid_unverified(fake, session, case):
    adapter, cred = connect(fake, session, case)
    fake.valid_keys(case.provider, {cred.api_key})
    assert (await adapter.check_key(cred)).result == "valid"

    other = Credential(new_key(), cred.fields)
    outcome = await adapter.check_key(other)
    assert outcome.result == "invalid"
    assert outcome.status == (400 if case.provider == "gemini" else 401)  # Gemini: 400 API_KEY_INVALID

    fake.script(case.provider, Fail(500))
    assert (await adapter.check_key(cred)).result == "unverified"
    fake.script(case.provider, Fail(429))
    assert (await adapter.check_key(cred)).result == "unverified"


async def test_check_key_is_unverified_when_the_provider_cannot_be_reached(fake, session):
    adapter = build_adapter("openai", "openai", f"http://127.0.0.1:{closed_port()}/v1", session)
    assert (await adapter.check_key(Credential(new_key()))).result == "unverified"
    adapter, cred = connect(fake, session, CASES[0], timeout=0.3)
    fake.script("openai", Hang(5))
    assert (await adapter.check_key(cred)).result == "unverified"


async def test_check_key_calls_the_documented_cheap_endpoint(fake, session):
    expected = {
        "openai": ("GET", "/openai/v1/models", {}),
        "anthropic": ("GET", "/anthropic/v1/models", {}),
        "gemini": ("GET", "/gemini/v1beta/models", {}),
        "cohere": ("GET", "/cohere/v1/models", {}),
    }
    for case in CHECK_CASES:
        adapter, cred = connect(fake, session, case)
        await adapter.check_key(cred)
        r = fake.requests_for(case.provider)[-1]
        assert (r.method, r.path, r.query) == expected[case.provider]


async def test_azure_check_key_lists_the_resources_models(session, odd_server):
    base, _ = odd_server
    adapter = build_adapter("azure-openai", "azure-openai", "", session)
    endpoint = {"endpoint": f"{base}/azure"}
    results = [
        (await adapter.check_key(Credential(prefix + secrets.token_hex(16), endpoint))).result
        for prefix in ("good-", "bad-", "busy-")
    ]
    assert results == ["valid", "invalid", "unverified"]
    assert (await adapter.check_key(Credential("good-" + secrets.token_hex(16)))).result == "unverified"


# ---------------------------------------------------------------------- the key never leaks


async def test_no_error_or_check_outcome_ever_contains_the_key(fake, session):
    seen: list[tuple[str, ProviderError]] = []
    details: list[tuple[str, str]] = []
    for case in CASES:
        key = new_key()
        adapter, cred = connect(fake, session, case, key=key, timeout=0.3, first_byte_timeout=0.3)
        req = with_model(ask(), case)

        fake.valid_keys(case.provider, {new_key()})
        seen.append((key, await failure(adapter.chat(cred, req))))
        details.append((key, (await adapter.check_key(cred)).detail))
        fake.valid_keys(case.provider, None)
        # Providers that echo the key back in their error text must not carry it into ours.
        for behaviour in (
            Fail(400, f"bad request for {key}"),
            Fail(429, f"slow down {key}", retry_after=1),
            Fail(500, f"upstream trace: key={key}"),
            Hang(2),
        ):
            fake.script(case.provider, behaviour)
            seen.append((key, await failure(adapter.chat(cred, req))))
        fake.script(case.provider, Fail(500, f"still {key}"))
        details.append((key, (await adapter.check_key(cred)).detail))
        fake.script(case.provider, CutStream(1))
        seen.append((key, await stream_failure(adapter, cred, req)))

        unreachable = build_adapter(
            case.provider, case.protocol, f"http://127.0.0.1:{closed_port()}", session
        )
        cred_elsewhere = Credential(key, {"endpoint": f"http://127.0.0.1:{closed_port()}"})
        seen.append((key, await failure(unreachable.chat(cred_elsewhere, req))))

    assert {error.kind for _, error in seen} == set(get_args(ErrorKind))
    for key, error in seen:
        rendered = [str(error), repr(error), error.message, *map(str, error.args)]
        rendered.append("".join(traceback.format_exception(error)))
        assert all(key not in text for text in rendered), (error.kind, error.message)
    for key, detail in details:
        assert detail and key not in detail


# ---------------------------------------------------------------------- registry


def test_build_adapter_picks_the_class_by_protocol_and_defaults_the_base_url():
    session: Any = object()  # build_adapter only stores it
    classes = {
        "openai": OpenAICompatAdapter,
        "groq": OpenAICompatAdapter,
        "anthropic": AnthropicAdapter,
        "gemini": GeminiAdapter,
        "cohere": CohereAdapter,
        "azure-openai": AzureOpenAIAdapter,
    }
    for name, cls in classes.items():
        protocol, base = DEFAULT_BASE_URLS[name]
        adapter = build_adapter(name, protocol, "", session, timeout=10.0)
        assert type(adapter) is cls and adapter.protocol == protocol
        assert (adapter.name, adapter.base_url, adapter.timeout) == (name, base, 10.0)
    assert build_adapter("groq", "openai", "http://x/v1/", session).base_url == "http://x/v1"
    with pytest.raises(ValueError, match="unknown provider protocol"):
        build_adapter("x", "bedrock", "http://x", session)
    with pytest.raises(ValueError, match="no base URL"):
        build_adapter("my-llm", "openai", "", session)


def test_default_base_urls_are_the_sdk_defaults():
    assert DEFAULT_BASE_URLS["openai"] == ("openai", "https://api.openai.com/v1")
    assert DEFAULT_BASE_URLS["groq"] == ("openai", "https://api.groq.com/openai/v1")
    assert DEFAULT_BASE_URLS["anthropic"] == ("anthropic", "https://api.anthropic.com")
    assert DEFAULT_BASE_URLS["gemini"] == ("gemini", "https://generativelanguage.googleapis.com")
    assert DEFAULT_BASE_URLS["cohere"] == ("cohere", "https://api.cohere.com")
    assert {p for p, _ in DEFAULT_BASE_URLS.values()} == {
        "openai",
        "anthropic",
        "gemini",
        "cohere",
        "azure-openai",
    }
