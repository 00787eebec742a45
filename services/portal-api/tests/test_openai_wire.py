"""OpenAI requests to router requests, router answers to OpenAI JSON, and SSE framing."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from keyrelay.common.errors import InvalidArgument, KeyrelayError, RateLimited, UpstreamError
from keyrelay.portal.domain import openai_wire as wire
from keyrelay.portal.domain.auth import Caller
from keyrelay.v1 import common_pb2, router_pb2

CALLER = Caller("access_key", "acme", "full_access", "ak_1", 30)


def body(**fields: Any) -> wire.ChatCompletionBody:
    return wire.ChatCompletionBody.model_validate(
        {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **fields}
    )


def route() -> common_pb2.Route:
    return common_pb2.Route(
        provider="openai",
        model="openai/gpt-4o-mini",
        key_source=common_pb2.KEY_SOURCE_TENANT,
        reason="explicit model",
        attempts=[
            common_pb2.Attempt(
                provider="openai", model="openai/gpt-4o-mini", outcome=common_pb2.ATTEMPT_OUTCOME_SUCCESS
            )
        ],
    )


def test_a_chat_body_becomes_a_router_request_for_the_callers_tenant_and_key() -> None:
    request = wire.complete_request(
        body(
            messages=[
                {"role": "developer", "content": "be brief"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
                    ],
                },
                {"role": "assistant", "content": None},
            ],
            max_tokens=50,
            max_completion_tokens=20,
            temperature=0.2,
            stop="END",
            user="someone",  # unknown fields are ignored
            stream=True,
        ),
        CALLER,
    )
    assert (request.tenant_id, request.access_key_id, request.access_key_rate_limit) == ("acme", "ak_1", 30)
    assert (
        request.model == "openai/gpt-4o-mini" and request.max_tokens == 20 and list(request.stop) == ["END"]
    )
    assert request.temperature == pytest.approx(0.2) and not request.HasField("top_p")
    system, user, assistant = request.messages
    assert (system.role, system.content) == ("system", "be brief")
    assert user.parts[0].text == "what is this?"
    assert (user.parts[1].image_url.url, user.parts[1].image_url.detail) == ("https://x/y.png", "low")
    assert assistant.role == "assistant" and assistant.content == ""


def test_defaults_leave_optional_fields_unset() -> None:
    request = wire.complete_request(
        wire.ChatCompletionBody.model_validate({"messages": [{"role": "user"}]}), CALLER
    )
    assert request.model == "auto" and list(request.stop) == []
    assert not any(request.HasField(f) for f in ("max_tokens", "temperature", "top_p"))


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input_audio"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "needs 'text'"),
        ({"n": 2}, "n must be 1"),
    ],
)
def test_unsupported_input_is_a_clear_400(fields: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidArgument) as bad:
        wire.complete_request(body(**fields), CALLER)
    assert needle in bad.value.message


def test_a_router_answer_becomes_an_openai_chat_completion() -> None:
    reply = router_pb2.CompleteResponse(
        id="chatcmpl-1",
        content="Hello!",
        finish_reason="stop",
        usage=common_pb2.Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5),
        cost_usd=0.000012,
        route=route(),
    )
    reply.created.seconds = 1700000000
    out = wire.completion_json(reply)
    assert out["object"] == "chat.completion" and out["created"] == 1700000000
    assert out["model"] == "openai/gpt-4o-mini"
    assert (
        out["choices"][0]["message"]["content"] == "Hello!" and out["choices"][0]["finish_reason"] == "stop"
    )
    assert out["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert out["keyrelay"]["route"]["key_source"] == "tenant"
    assert out["keyrelay"]["route"]["attempts"][0]["outcome"] == "success"
    assert out["keyrelay"]["cost_usd"] == pytest.approx(0.000012)


def test_embeddings_answer_as_floats_or_base64_float32() -> None:
    request = wire.embed_request(wire.EmbeddingsBody(input="one", dimensions=8), CALLER)
    assert list(request.inputs) == ["one"] and request.dimensions == 8
    with pytest.raises(InvalidArgument):
        wire.embed_request(wire.EmbeddingsBody(input=[]), CALLER)
    reply = router_pb2.EmbedResponse(
        embeddings=[router_pb2.Embedding(index=0, values=[0.5, -1.0])],
        model="openai/text-embedding-3-small",
        usage=common_pb2.Usage(prompt_tokens=1),
        route=route(),
    )
    floats = wire.embeddings_json(reply)
    assert floats["data"][0]["embedding"] == [0.5, -1.0] and floats["usage"]["total_tokens"] == 1
    packed = wire.embeddings_json(reply, "base64")["data"][0]["embedding"]
    assert struct.unpack("<2f", base64.b64decode(packed)) == (0.5, -1.0)


# -- streams ----------------------------------------------------------------------------


def deltas(*texts: str) -> list[router_pb2.CompleteStreamChunk]:
    return [router_pb2.CompleteStreamChunk(id="c1", model="openai/gpt-4o-mini", delta=t) for t in texts]


def final() -> router_pb2.CompleteStreamChunk:
    usage = common_pb2.Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)
    return router_pb2.CompleteStreamChunk(
        id="c1",
        model="openai/gpt-4o-mini",
        final=router_pb2.CompleteStreamFinal(
            finish_reason="length", usage=usage, cost_usd=0.1, route=route()
        ),
    )


async def source(*items: router_pb2.CompleteStreamChunk | KeyrelayError) -> AsyncIterator[Any]:
    for item in items:
        if isinstance(item, KeyrelayError):
            raise item
        yield item


async def events(*items: Any, include_usage: bool = False) -> list[Any]:
    out = [
        e
        async for e in wire.chat_completion_events(
            source(*items), include_usage=include_usage, request_id="rid", created=7
        )
    ]
    assert all(e.startswith("data: ") and e.endswith("\n\n") for e in out)
    return [e[6:-2] if e == wire.DONE else json.loads(e[6:]) for e in out]


async def test_a_stream_is_role_deltas_finish_usage_done() -> None:
    got = await events(*deltas("Hel", "lo"), final(), include_usage=True)
    role, first, second, finish, usage, done = got
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert role["object"] == "chat.completion.chunk" and role["id"] == "c1" and role["created"] == 7
    assert [first["choices"][0]["delta"]["content"], second["choices"][0]["delta"]["content"]] == [
        "Hel",
        "lo",
    ]
    assert finish["choices"][0]["finish_reason"] == "length" and finish["choices"][0]["delta"] == {}
    assert finish["keyrelay"]["route"]["provider"] == "openai" and first["usage"] is None
    assert usage["choices"] == [] and usage["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 2,
        "total_tokens": 5,
    }
    assert done == "[DONE]"


async def test_without_include_usage_there_is_no_usage_chunk() -> None:
    got = await events(*deltas("x"), final())
    assert len(got) == 4 and "usage" not in got[1] and got[-1] == "[DONE]"


async def test_an_error_mid_stream_is_an_error_event_then_done() -> None:
    got = await events(*deltas("Hel"), UpstreamError("openai: stream cut"))
    assert got[-2] == {
        "error": {"type": "upstream_error", "message": "openai: stream cut", "request_id": "rid"}
    }
    assert got[-1] == "[DONE]" and got[1]["choices"][0]["delta"]["content"] == "Hel"


async def test_a_stream_without_its_final_chunk_ends_with_an_error() -> None:
    got = await events(*deltas("a"))
    assert got[-2]["error"]["type"] == "upstream_error" and got[-1] == "[DONE]"


async def test_an_error_before_any_chunk_is_still_framed() -> None:
    got = await events(RateLimited("slow down", retry_after=3))
    assert got == [{"error": {"type": "rate_limited", "message": "slow down", "request_id": "rid"}}, "[DONE]"]
