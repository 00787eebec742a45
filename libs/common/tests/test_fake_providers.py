"""The fake AI providers, checked with a plain aiohttp client against each provider's documented
request, response, stream and error shapes."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import signal
import struct
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from keyrelay.common.testing.fake_providers import CutStream, Fail, FakeProviders, Hang, Ok, Recorded

pytestmark = pytest.mark.timeout(30)

OPENAI_COMPATIBLE = [
    "openai",
    "openrouter",
    "deepseek",
    "mistral",
    "groq",
    "together",
    "perplexity",
    "ollama",
    "vllm",
    "lmstudio",
    "huggingface",
    "xai",
]
CHAT_PROVIDERS = ["openai", "azure-openai", "anthropic", "gemini", "cohere"]
KEYS = {
    "openai": "sk-test-1234",
    "azure-openai": "az-test-1234",
    "anthropic": "sk-ant-test-1234",
    "gemini": "AIza-test-1234",
    "cohere": "co-test-1234",
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    async with FakeProviders() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# ---------------------------------------------------------------- helpers


def auth_headers(provider: str, key: str | None = None) -> dict[str, str]:
    key = KEYS[provider] if key is None else key
    if provider == "anthropic":
        return {"x-api-key": key, "anthropic-version": "2023-06-01"}
    if provider == "gemini":
        return {"x-goog-api-key": key}
    if provider == "azure-openai":
        return {"api-key": key}
    return {"Authorization": f"Bearer {key}"}


@dataclass
class ChatRequest:
    url: str
    body: dict[str, Any]
    headers: dict[str, str]


def chat_request(
    fake: FakeProviders,
    provider: str,
    user: str = "What is the capital of France?",
    *,
    system: str | None = None,
    stream: bool = False,
    max_tokens: int | None = None,
    key: str | None = None,
) -> ChatRequest:
    """The provider's own chat request for a system prompt and one user message."""
    base, headers = fake.url(provider), auth_headers(provider, key)
    if provider == "anthropic":
        body: dict[str, Any] = {
            "model": "claude-sonnet-4-20250514",
            "max_tokens": max_tokens or 1024,
            "messages": [{"role": "user", "content": user}],
        }
        if system is not None:
            body["system"] = system
        if stream:
            body["stream"] = True
        return ChatRequest(f"{base}/v1/messages", body, headers)
    if provider == "gemini":
        body = {"contents": [{"role": "user", "parts": [{"text": user}]}]}
        if system is not None:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        if max_tokens is not None:
            body["generationConfig"] = {"maxOutputTokens": max_tokens}
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return ChatRequest(f"{base}/v1beta/models/gemini-2.0-flash:{method}", body, headers)
    messages = ([{"role": "system", "content": system}] if system is not None else []) + [
        {"role": "user", "content": user}
    ]
    body = {"model": "command-a-03-2025" if provider == "cohere" else "gpt-4o-mini", "messages": messages}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stream:
        body["stream"] = True
        if provider != "cohere":
            body["stream_options"] = {"include_usage": True}
    if provider == "cohere":
        return ChatRequest(f"{base}/v2/chat", body, headers)
    if provider == "azure-openai":
        url = f"{base}/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
        return ChatRequest(url, body, headers)
    return ChatRequest(f"{base}/chat/completions", body, headers)


async def post_json(http: aiohttp.ClientSession, req: ChatRequest) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with http.post(req.url, json=req.body, headers=req.headers) as resp:
        return resp.status, await resp.json(content_type=None), resp


@dataclass
class SseEvent:
    name: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(raw: bytes) -> list[SseEvent]:
    """Complete SSE events in ``raw`` (any of CRLF/LF line ends); a trailing partial event is dropped."""
    text = raw.decode().replace("\r\n", "\n")
    blocks = text.split("\n\n")[:-1]
    events = []
    for block in blocks:
        name, data = None, []
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        events.append(SseEvent(name, "\n".join(data)))
    return events


async def read_stream(http: aiohttp.ClientSession, req: ChatRequest) -> tuple[aiohttp.ClientResponse, bytes]:
    async with http.post(req.url, json=req.body, headers=req.headers) as resp:
        return resp, await resp.read()


async def read_until_cut(http: aiohttp.ClientSession, req: ChatRequest) -> tuple[bytes, Exception | None]:
    """Whatever arrived before the connection dropped, and the client's error."""
    got = b""
    async with http.post(req.url, json=req.body, headers=req.headers) as resp:
        assert resp.status == 200
        try:
            async for chunk in resp.content.iter_any():
                got += chunk
        except aiohttp.ClientPayloadError as exc:
            return got, exc
    return got, None


def streamed_text(provider: str, events: list[SseEvent]) -> str:
    parts = []
    for event in events:
        if provider in ("openai", "azure-openai"):
            if event.data != "[DONE]":
                choices = event.json()["choices"]
                parts += [c["delta"].get("content") or "" for c in choices]
        elif provider == "anthropic":
            if event.name == "content_block_delta":
                parts.append(event.json()["delta"]["text"])
        elif provider == "gemini":
            parts += [p["text"] for c in event.json()["candidates"] for p in c["content"]["parts"]]
        elif event.name == "content-delta":
            parts.append(event.json()["delta"]["message"]["content"]["text"])
    return "".join(parts)


def has_final_event(provider: str, events: list[SseEvent]) -> bool:
    if provider in ("openai", "azure-openai"):
        return any(e.data == "[DONE]" for e in events)
    if provider == "anthropic":
        return any(e.name == "message_stop" for e in events)
    if provider == "gemini":
        return any("finishReason" in e.json()["candidates"][0] for e in events)
    return any(e.name == "message-end" for e in events)


def answer_text(provider: str, body: dict[str, Any]) -> str:
    if provider == "anthropic":
        return str(body["content"][0]["text"])
    if provider == "gemini":
        return str(body["candidates"][0]["content"]["parts"][0]["text"])
    if provider == "cohere":
        return str(body["message"]["content"][0]["text"])
    return str(body["choices"][0]["message"]["content"])


def usage_of(provider: str, body: dict[str, Any]) -> tuple[int, int] | None:
    """(prompt tokens, completion tokens) as the provider reports them, or None."""
    if provider == "anthropic":
        usage = body.get("usage")
        return (usage["input_tokens"], usage["output_tokens"]) if usage else None
    if provider == "gemini":
        meta = body.get("usageMetadata")
        return (meta["promptTokenCount"], meta["candidatesTokenCount"]) if meta else None
    if provider == "cohere":
        usage = body.get("usage")
        return (
            (usage["billed_units"]["input_tokens"], usage["billed_units"]["output_tokens"]) if usage else None
        )
    usage = body.get("usage")
    return (usage["prompt_tokens"], usage["completion_tokens"]) if usage else None


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------- OpenAI and OpenAI-compatible


async def test_openai_chat_completion_has_the_documented_shape(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    status, body, resp = await post_json(http, chat_request(fake, "openai", "Say hello", system="Be brief."))
    assert status == 200 and resp.content_type == "application/json"
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == "gpt-4o-mini"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello from the fake provider."},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}


async def test_openai_stream_sends_role_deltas_finish_usage_and_done(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    resp, raw = await read_stream(http, chat_request(fake, "openai", "Say hello", stream=True))
    assert resp.status == 200 and resp.content_type == "text/event-stream"
    events = parse_sse(raw)
    assert events[-1].data == "[DONE]"
    chunks = [e.json() for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[1:-2]]
    assert contents == ["Hello", " from", " the", " fake", " provider."]
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}


async def test_openai_stream_without_include_usage_has_no_usage_chunk(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    req = chat_request(fake, "openai", stream=True)
    del req.body["stream_options"]
    _, raw = await read_stream(http, req)
    chunks = [e.json() for e in parse_sse(raw)[:-1]]
    assert all("usage" not in c and c["choices"] for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
async def test_openai_token_limit_truncates_by_words_with_finish_reason_length(
    fake: FakeProviders, http: aiohttp.ClientSession, field: str
) -> None:
    req = chat_request(fake, "openai")
    req.body[field] = 2
    _, body, _ = await post_json(http, req)
    assert body["choices"][0]["message"]["content"] == "Hello from"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 2


async def test_chunk_words_sets_the_words_per_stream_chunk(http: aiohttp.ClientSession) -> None:
    async with FakeProviders(chunk_words=2, default_text="one two three four five") as fake:
        _, raw = await read_stream(http, chat_request(fake, "openai", stream=True))
    deltas = [e.json()["choices"] for e in parse_sse(raw)[:-1]]
    contents = [c[0]["delta"].get("content") for c in deltas if c and c[0]["delta"].get("content")]
    assert contents == ["one two", " three four", " five"]


async def test_stop_sequence_ends_the_answer_early(fake: FakeProviders, http: aiohttp.ClientSession) -> None:
    req = chat_request(fake, "openai")
    req.body["stop"] = [" fake"]
    _, body, _ = await post_json(http, req)
    assert body["choices"][0]["message"]["content"] == "Hello from the"
    assert body["choices"][0]["finish_reason"] == "stop"


async def test_openai_embeddings_are_deterministic_unit_vectors(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    url, headers = f"{fake.url('openai')}/embeddings", auth_headers("openai")
    texts = ["Paris is the capital of France", "the capital of France", "bananas are yellow"]
    payload = {"model": "text-embedding-3-small", "input": texts, "encoding_format": "float"}
    async with http.post(url, json=payload, headers=headers) as resp:
        body = await resp.json()
    async with http.post(url, json={**payload, "input": texts[0]}, headers=headers) as resp:
        again = await resp.json()
    assert body["object"] == "list" and body["model"] == "text-embedding-3-small"
    assert [(d["object"], d["index"]) for d in body["data"]] == [
        ("embedding", 0),
        ("embedding", 1),
        ("embedding", 2),
    ]
    vectors = [d["embedding"] for d in body["data"]]
    assert all(len(v) == 1536 for v in vectors)
    assert math.isclose(math.sqrt(sum(x * x for x in vectors[0])), 1.0, rel_tol=1e-4)
    assert again["data"][0]["embedding"] == vectors[0]
    assert cosine(vectors[0], vectors[1]) > 0.5 > abs(cosine(vectors[0], vectors[2]))
    assert body["usage"] == {"prompt_tokens": 13, "total_tokens": 13}


async def test_openai_embeddings_honour_dimensions_and_base64(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    url, headers = f"{fake.url('openai')}/embeddings", auth_headers("openai")
    payload = {"model": "text-embedding-3-small", "input": "hello", "dimensions": 256}
    async with http.post(url, json=payload, headers=headers) as resp:
        floats = (await resp.json())["data"][0]["embedding"]
    async with http.post(url, json={**payload, "encoding_format": "base64"}, headers=headers) as resp:
        encoded = (await resp.json())["data"][0]["embedding"]
    assert len(floats) == 256
    decoded = struct.unpack("<256f", base64.b64decode(encoded))
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(decoded, floats, strict=True))


async def test_openai_models_list(fake: FakeProviders, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{fake.url('openai')}/models", headers=auth_headers("openai")) as resp:
        body = await resp.json()
    assert body["object"] == "list"
    assert {"gpt-4o-mini", "text-embedding-3-small"} <= {m["id"] for m in body["data"]}
    assert all(
        set(m) == {"id", "object", "created", "owned_by"} and m["object"] == "model" for m in body["data"]
    )


async def test_openrouter_models_list_has_openrouter_pricing_without_a_key(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{fake.url('openrouter')}/models") as resp:
        assert resp.status == 200
        models = (await resp.json())["data"]
    assert all({"id", "name", "context_length", "pricing"} <= set(m) for m in models)
    assert float(models[0]["pricing"]["prompt"]) > 0 and isinstance(models[0]["context_length"], int)


@pytest.mark.parametrize("name", OPENAI_COMPATIBLE)
async def test_every_openai_compatible_provider_is_served_under_its_name(
    fake: FakeProviders, http: aiohttp.ClientSession, name: str
) -> None:
    assert fake.url(name) == f"{fake.base_url}/{name}/v1"
    req = chat_request(fake, "openai")
    async with http.post(f"{fake.url(name)}/chat/completions", json=req.body, headers=req.headers) as resp:
        assert resp.status == 200
        assert (await resp.json())["object"] == "chat.completion"
    [recorded] = fake.requests_for(name)
    assert recorded.provider == name and recorded.path == f"/{name}/v1/chat/completions"
    assert recorded.api_key == KEYS["openai"]


async def test_local_servers_need_no_key_but_hosted_ones_do(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    body = chat_request(fake, "openai").body
    async with http.post(f"{fake.url('ollama')}/chat/completions", json=body) as resp:
        assert resp.status == 200
    async with http.post(f"{fake.url('groq')}/chat/completions", json=body) as resp:
        assert resp.status == 401
        error = (await resp.json())["error"]
    assert error["type"] == "invalid_request_error" and "API key" in error["message"]


# ---------------------------------------------------------------- Azure OpenAI


async def test_azure_takes_the_api_key_header_and_answers_like_openai(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await post_json(http, chat_request(fake, "azure-openai"))
    assert status == 200 and body["object"] == "chat.completion"
    [recorded] = fake.requests_for("azure-openai")
    assert recorded.api_key == KEYS["azure-openai"]
    assert recorded.path == "/azure/openai/deployments/gpt4o-prod/chat/completions"
    assert recorded.query == {"api-version": "2024-10-21"}


async def test_azure_without_api_version_is_not_found_and_bearer_is_not_its_key(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    req = chat_request(fake, "azure-openai")
    async with http.post(req.url.split("?")[0], json=req.body, headers=req.headers) as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "404"
    async with http.post(req.url, json=req.body, headers=auth_headers("openai")) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "401"


async def test_azure_embeddings(fake: FakeProviders, http: aiohttp.ClientSession) -> None:
    url = f"{fake.url('azure-openai')}/openai/deployments/emb/embeddings?api-version=2024-10-21"
    async with http.post(url, json={"input": ["a b c"]}, headers=auth_headers("azure-openai")) as resp:
        body = await resp.json()
    assert body["model"] == "emb" and len(body["data"][0]["embedding"]) == 1536


# ---------------------------------------------------------------- Anthropic


async def test_anthropic_message_has_the_documented_shape(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await post_json(http, chat_request(fake, "anthropic", "Say hello", system="Be brief."))
    assert status == 200
    assert body["id"].startswith("msg_") and body["type"] == "message" and body["role"] == "assistant"
    assert body["model"] == "claude-sonnet-4-20250514"
    assert body["content"] == [{"type": "text", "text": "Hello from the fake provider."}]
    assert body["stop_reason"] == "end_turn" and body["stop_sequence"] is None
    assert (body["usage"]["input_tokens"], body["usage"]["output_tokens"]) == (4, 5)
    [recorded] = fake.requests
    assert recorded.api_key == KEYS["anthropic"] and recorded.headers["anthropic-version"] == "2023-06-01"


async def test_anthropic_stream_sends_the_documented_event_sequence(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    resp, raw = await read_stream(http, chat_request(fake, "anthropic", "Say hello", stream=True))
    assert resp.content_type == "text/event-stream"
    events = parse_sse(raw)
    names = [e.name for e in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 5,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(e.json()["type"] == e.name for e in events)
    start = events[0].json()["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert (start["usage"]["input_tokens"], start["usage"]["output_tokens"]) == (2, 1)
    assert events[1].json()["content_block"] == {"type": "text", "text": ""}
    assert events[3].json() == {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "Hello"},
    }
    assert streamed_text("anthropic", events) == "Hello from the fake provider."
    assert events[-2].json() == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 5},
    }


async def test_anthropic_requires_max_tokens_and_version(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    req = chat_request(fake, "anthropic")
    del req.body["max_tokens"]
    status, body, _ = await post_json(http, req)
    assert status == 400
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]
    req = chat_request(fake, "anthropic")
    del req.headers["anthropic-version"]
    status, body, _ = await post_json(http, req)
    assert status == 400 and "anthropic-version" in body["error"]["message"]


async def test_anthropic_max_tokens_stop_reason(fake: FakeProviders, http: aiohttp.ClientSession) -> None:
    _, body, _ = await post_json(http, chat_request(fake, "anthropic", max_tokens=3))
    assert body["content"][0]["text"] == "Hello from the"
    assert body["stop_reason"] == "max_tokens" and body["usage"]["output_tokens"] == 3


async def test_anthropic_models_list(fake: FakeProviders, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{fake.url('anthropic')}/v1/models", headers=auth_headers("anthropic")) as resp:
        body = await resp.json()
    assert body["has_more"] is False and body["first_id"] == body["data"][0]["id"]
    assert all(m["type"] == "model" and m["display_name"] and m["created_at"] for m in body["data"])


# ---------------------------------------------------------------- Gemini


async def test_gemini_generate_content_has_the_documented_shape(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await post_json(http, chat_request(fake, "gemini", "Say hello", system="Be brief."))
    assert status == 200
    assert body["candidates"] == [
        {
            "content": {"parts": [{"text": "Hello from the fake provider."}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ]
    assert body["usageMetadata"] == {"promptTokenCount": 4, "candidatesTokenCount": 5, "totalTokenCount": 9}
    assert body["modelVersion"] == "gemini-2.0-flash"
    [recorded] = fake.requests
    assert recorded.api_key == KEYS["gemini"] and recorded.query == {}


async def test_gemini_sse_stream_has_cumulative_usage_and_a_final_finish_reason(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    resp, raw = await read_stream(http, chat_request(fake, "gemini", "Say hello", stream=True))
    assert resp.content_type == "text/event-stream"
    assert raw.count(b"\r\n\r\n") == 5  # Google ends events with CRLF CRLF
    chunks = [e.json() for e in parse_sse(raw)]
    assert streamed_text("gemini", parse_sse(raw)) == "Hello from the fake provider."
    assert [c["usageMetadata"]["candidatesTokenCount"] for c in chunks] == [1, 2, 3, 4, 5]
    assert [c["candidates"][0].get("finishReason") for c in chunks] == [None] * 4 + ["STOP"]


async def test_gemini_stream_without_alt_sse_is_a_json_array(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    req = chat_request(fake, "gemini", stream=True)
    req.url = req.url.replace("?alt=sse", "")
    status, body, _ = await post_json(http, req)
    assert status == 200 and isinstance(body, list) and len(body) == 5
    assert body[-1]["candidates"][0]["finishReason"] == "STOP"


async def test_gemini_max_output_tokens(fake: FakeProviders, http: aiohttp.ClientSession) -> None:
    _, body, _ = await post_json(http, chat_request(fake, "gemini", max_tokens=2))
    assert body["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert body["candidates"][0]["content"]["parts"][0]["text"] == "Hello from"


async def test_gemini_refuses_and_records_a_key_in_the_url(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    req = chat_request(fake, "gemini")
    async with http.post(f"{req.url}?key={KEYS['gemini']}", json=req.body) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    [recorded] = fake.requests_for("gemini")
    assert recorded.query == {"key": KEYS["gemini"]}


async def test_gemini_wrong_key_is_api_key_invalid_and_no_key_is_permission_denied(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    fake.valid_keys("gemini", {KEYS["gemini"]})
    status, body, _ = await post_json(http, chat_request(fake, "gemini", key="AIza-wrong"))
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT"
    assert body["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    req = chat_request(fake, "gemini")
    async with http.post(req.url, json=req.body) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"]["status"] == "PERMISSION_DENIED"


async def test_gemini_embeddings(fake: FakeProviders, http: aiohttp.ClientSession) -> None:
    base, headers = f"{fake.url('gemini')}/v1beta/models", auth_headers("gemini")
    one = {"model": "models/text-embedding-004", "content": {"parts": [{"text": "hello world"}]}}
    async with http.post(f"{base}/text-embedding-004:embedContent", json=one, headers=headers) as resp:
        single = (await resp.json())["embedding"]["values"]
    batch = {"requests": [one, {**one, "outputDimensionality": 256}]}
    async with http.post(
        f"{base}/text-embedding-004:batchEmbedContents", json=batch, headers=headers
    ) as resp:
        many = (await resp.json())["embeddings"]
    assert len(single) == 768 and many[0]["values"] == single and len(many[1]["values"]) == 256


async def test_gemini_models_list(fake: FakeProviders, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{fake.url('gemini')}/v1beta/models", headers=auth_headers("gemini")) as resp:
        models = (await resp.json())["models"]
    assert all(m["name"].startswith("models/") and m["supportedGenerationMethods"] for m in models)


# ---------------------------------------------------------------- Cohere


async def test_cohere_chat_has_the_documented_shape(fake: FakeProviders, http: aiohttp.ClientSession) -> None:
    status, body, _ = await post_json(http, chat_request(fake, "cohere", "Say hello", system="Be brief."))
    assert status == 200
    assert body["finish_reason"] == "COMPLETE"
    assert body["message"] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Hello from the fake provider."}],
    }
    tokens = {"input_tokens": 4, "output_tokens": 5}
    assert body["usage"] == {"billed_units": tokens, "tokens": tokens}
    assert fake.requests[0].api_key == KEYS["cohere"]


async def test_cohere_stream_sends_the_v2_event_sequence(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    _, raw = await read_stream(http, chat_request(fake, "cohere", "Say hello", stream=True, max_tokens=3))
    events = parse_sse(raw)
    assert [e.name for e in events] == [
        "message-start",
        "content-start",
        *["content-delta"] * 3,
        "content-end",
        "message-end",
    ]
    assert all(e.json()["type"] == e.name for e in events)
    assert events[2].json() == {
        "type": "content-delta",
        "index": 0,
        "delta": {"message": {"content": {"text": "Hello"}}},
    }
    end = events[-1].json()["delta"]
    assert end["finish_reason"] == "MAX_TOKENS"
    assert end["usage"]["billed_units"] == {"input_tokens": 2, "output_tokens": 3}


async def test_cohere_embed_and_models(fake: FakeProviders, http: aiohttp.ClientSession) -> None:
    payload = {
        "model": "embed-english-v3.0",
        "texts": ["hello world", "second text"],
        "input_type": "search_document",
        "embedding_types": ["float"],
    }
    headers = auth_headers("cohere")
    async with http.post(f"{fake.url('cohere')}/v2/embed", json=payload, headers=headers) as resp:
        body = await resp.json()
    assert body["texts"] == payload["texts"]
    assert [len(v) for v in body["embeddings"]["float"]] == [1024, 1024]
    assert body["meta"]["billed_units"] == {"input_tokens": 4}
    async with http.get(f"{fake.url('cohere')}/v1/models", headers=headers) as resp:
        models = (await resp.json())["models"]
    assert {"name", "endpoints", "context_length"} <= set(models[0])


# ---------------------------------------------------------------- auth and scripted failures


def check_error_shape(provider: str, status: int, body: Any) -> None:
    if provider == "openai":
        assert set(body["error"]) == {"message", "type", "param", "code"} and body["error"]["message"]
    elif provider == "azure-openai":
        assert body["error"]["code"] == str(status) and body["error"]["message"]
    elif provider == "anthropic":
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    elif provider == "gemini":
        assert body["error"]["code"] == status and body["error"]["status"] and body["error"]["message"]
    else:
        assert set(body) == {"message"} and body["message"]


@pytest.mark.parametrize("provider", ["openai", "azure-openai", "anthropic", "cohere"])
async def test_wrong_key_gets_the_providers_401_once_valid_keys_are_set(
    fake: FakeProviders, http: aiohttp.ClientSession, provider: str
) -> None:
    fake.valid_keys(provider, {KEYS[provider]})
    status, body, _ = await post_json(http, chat_request(fake, provider, key="wrong-key"))
    assert status == 401
    check_error_shape(provider, 401, body)
    if provider == "anthropic":
        assert body["error"]["type"] == "authentication_error"
    status, _, _ = await post_json(http, chat_request(fake, provider))
    assert status == 200
    fake.valid_keys(provider, None)
    status, _, _ = await post_json(http, chat_request(fake, provider, key="any-other-key"))
    assert status == 200
    assert [r.api_key for r in fake.requests_for(provider)] == ["wrong-key", KEYS[provider], "any-other-key"]


@pytest.mark.parametrize("provider", CHAT_PROVIDERS)
@pytest.mark.parametrize("status", [400, 403, 404, 500, 503])
async def test_scripted_failures_use_the_providers_error_shape(
    fake: FakeProviders, http: aiohttp.ClientSession, provider: str, status: int
) -> None:
    fake.script(provider, Fail(status))
    code, body, _ = await post_json(http, chat_request(fake, provider))
    assert code == status
    check_error_shape(provider, status, body)
    code, _, _ = await post_json(http, chat_request(fake, provider))
    assert code == 200  # the script is used up


@pytest.mark.parametrize("provider", ["openai", "azure-openai", "anthropic"])
async def test_scripted_429_carries_retry_after(
    fake: FakeProviders, http: aiohttp.ClientSession, provider: str
) -> None:
    fake.script(provider, Fail(429, "slow down", retry_after=2))
    status, body, resp = await post_json(http, chat_request(fake, provider))
    assert status == 429 and resp.headers["retry-after"] == "2"
    check_error_shape(provider, 429, body)
    if provider == "anthropic":
        assert body["error"] == {"type": "rate_limit_error", "message": "slow down"}
    if provider == "openai":
        assert body["error"]["code"] == "rate_limit_exceeded"


async def test_gemini_429_says_retry_delay_in_retry_info(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    fake.script("gemini", Fail(429, retry_after=1.5))
    status, body, _ = await post_json(http, chat_request(fake, "gemini"))
    assert status == 429 and body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert body["error"]["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}
    ]


async def test_anthropic_529_is_overloaded(fake: FakeProviders, http: aiohttp.ClientSession) -> None:
    fake.script("anthropic", Fail(529))
    status, body, _ = await post_json(http, chat_request(fake, "anthropic"))
    assert status == 529 and body["error"]["type"] == "overloaded_error"


async def test_scripts_are_consumed_in_order_per_provider(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    fake.script("openai", Fail(500), Ok(text="second"), Fail(503))
    fake.script("anthropic", Ok(text="claude"))
    results = [await post_json(http, chat_request(fake, "openai")) for _ in range(4)]
    assert [r[0] for r in results] == [500, 200, 503, 200]
    assert answer_text("openai", results[1][1]) == "second"
    assert answer_text("openai", results[3][1]) == "Hello from the fake provider."
    _, body, _ = await post_json(http, chat_request(fake, "anthropic"))
    assert answer_text("anthropic", body) == "claude"


async def test_unknown_provider_names_are_refused(fake: FakeProviders) -> None:
    with pytest.raises(ValueError, match="unknown provider"):
        fake.script("opena1", Fail(500))
    with pytest.raises(ValueError, match="unknown provider"):
        fake.url("azure")


# ---------------------------------------------------------------- hang and cut


@pytest.mark.parametrize("provider", CHAT_PROVIDERS)
async def test_hang_sends_nothing_until_the_client_times_out(
    fake: FakeProviders, http: aiohttp.ClientSession, provider: str
) -> None:
    fake.script(provider, Hang(2))
    req = chat_request(fake, provider)
    with pytest.raises(TimeoutError):
        async with http.post(
            req.url, json=req.body, headers=req.headers, timeout=aiohttp.ClientTimeout(total=0.3)
        ):
            pass
    assert len(fake.requests_for(provider)) == 1


async def test_hang_then_answers_like_a_slow_upstream(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    fake.script("openai", Hang(0.2))
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, _, _ = await post_json(http, chat_request(fake, "openai"))
    assert status == 200 and loop.time() - started >= 0.19


async def test_latency_delays_every_answer(http: aiohttp.ClientSession) -> None:
    async with FakeProviders(latency=0.2) as fake:
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, _, _ = await post_json(http, chat_request(fake, "cohere"))
        assert status == 200 and loop.time() - started >= 0.19


async def test_stop_does_not_wait_for_hanging_requests(http: aiohttp.ClientSession) -> None:
    fake = FakeProviders()
    await fake.start()
    fake.script("openai", Hang(60))
    req = chat_request(fake, "openai")
    pending = asyncio.ensure_future(http.post(req.url, json=req.body, headers=req.headers))
    while not fake.requests:
        await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await fake.stop()
    assert loop.time() - started < 5
    with pytest.raises(aiohttp.ClientError):
        await pending


@pytest.mark.parametrize("provider", CHAT_PROVIDERS)
async def test_cut_stream_drops_the_connection_before_the_final_event(
    fake: FakeProviders, http: aiohttp.ClientSession, provider: str
) -> None:
    fake.script(provider, CutStream(after_chunks=2))
    got, error = await read_until_cut(http, chat_request(fake, provider, "Say hello", stream=True))
    assert isinstance(error, aiohttp.ClientPayloadError)
    events = parse_sse(got)
    assert streamed_text(provider, events) == "Hello from"
    assert not has_final_event(provider, events)


async def test_cut_non_streaming_answer_is_an_incomplete_body(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    fake.script("openai", CutStream())
    with pytest.raises(aiohttp.ClientPayloadError):
        await post_json(http, chat_request(fake, "openai"))


# ---------------------------------------------------------------- echo and usage


@pytest.mark.parametrize("provider", CHAT_PROVIDERS)
async def test_echo_answers_with_every_message_text(http: aiohttp.ClientSession, provider: str) -> None:
    system = "Context: the Eiffel Tower is in Paris."
    async with FakeProviders(echo=True) as fake:
        _, body, _ = await post_json(http, chat_request(fake, provider, "Where is it?", system=system))
        _, raw = await read_stream(
            http, chat_request(fake, provider, "Where is it?", system=system, stream=True)
        )
    expected = f"{system}\nWhere is it?"
    assert answer_text(provider, body) == expected
    assert streamed_text(provider, parse_sse(raw)) == expected
    assert usage_of(provider, body) == (10, 10)


@pytest.mark.parametrize("provider", CHAT_PROVIDERS)
async def test_ok_without_usage_leaves_usage_out(
    fake: FakeProviders, http: aiohttp.ClientSession, provider: str
) -> None:
    fake.script(provider, Ok(text="no usage here", usage=False), Ok(usage=False))
    _, body, _ = await post_json(http, chat_request(fake, provider))
    assert answer_text(provider, body) == "no usage here"
    assert usage_of(provider, body) is None
    _, raw = await read_stream(http, chat_request(fake, provider, stream=True))
    assert b"usage" not in raw.replace(b'"usage":null', b"")
    assert has_final_event(provider, parse_sse(raw))


# ---------------------------------------------------------------- recording and control endpoints


async def test_requests_are_recorded_with_lower_case_headers_and_parsed_body(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    req = chat_request(fake, "anthropic")
    await post_json(http, req)
    [recorded] = fake.requests
    assert isinstance(recorded, Recorded)
    assert (recorded.provider, recorded.method, recorded.path) == (
        "anthropic",
        "POST",
        "/anthropic/v1/messages",
    )
    assert recorded.headers["x-api-key"] == KEYS["anthropic"] and recorded.body == req.body


async def test_control_endpoints_script_restrict_list_and_reset(
    fake: FakeProviders, http: aiohttp.ClientSession
) -> None:
    control = f"{fake.base_url}/_control"
    script = {
        "provider": "openai",
        "behaviours": [{"kind": "fail", "status": 429, "retry_after": 1}, {"kind": "ok", "text": "scripted"}],
    }
    async with http.post(f"{control}/script", json=script) as resp:
        assert resp.status == 200 and (await resp.json()) == {"queued": 2}
    async with http.post(
        f"{control}/script", json={"provider": "openai", "behaviours": [{"kind": "nope"}]}
    ) as resp:
        assert resp.status == 400
    status, _, resp = await post_json(http, chat_request(fake, "openai"))
    assert status == 429 and resp.headers["retry-after"] == "1"
    _, body, _ = await post_json(http, chat_request(fake, "openai"))
    assert answer_text("openai", body) == "scripted"

    async with http.post(f"{control}/valid-keys", json={"provider": "cohere", "keys": ["good"]}) as resp:
        assert resp.status == 200
    assert (await post_json(http, chat_request(fake, "cohere", key="bad")))[0] == 401
    assert (await post_json(http, chat_request(fake, "cohere", key="good")))[0] == 200

    async with http.get(f"{control}/requests") as resp:
        listed = await resp.json()
    assert [(r["provider"], r["api_key"]) for r in listed] == [
        ("openai", KEYS["openai"]),
        ("openai", KEYS["openai"]),
        ("cohere", "bad"),
        ("cohere", "good"),
    ]
    assert set(listed[0]) == {"provider", "method", "path", "headers", "query", "body", "api_key"}
    async with http.get(f"{control}/requests", params={"provider": "cohere"}) as resp:
        assert len(await resp.json()) == 2

    async with http.post(f"{control}/reset") as resp:
        assert resp.status == 200
    assert fake.requests == []
    assert (await post_json(http, chat_request(fake, "cohere", key="bad")))[0] == 200


async def test_runs_standalone_until_sigterm(http: aiohttp.ClientSession) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyrelay.common.testing.fake_providers", "--port", "0", "--echo"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        base_url = (await asyncio.to_thread(proc.stdout.readline)).strip()
        assert base_url.startswith("http://127.0.0.1:")
        req = ChatRequest(
            f"{base_url}/openai/v1/chat/completions", chat_request_body("echo me"), auth_headers("openai")
        )
        _, body, _ = await post_json(http, req)
        assert answer_text("openai", body) == "echo me"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def chat_request_body(text: str) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
