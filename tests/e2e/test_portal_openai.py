"""portal-api's OpenAI-compatible endpoints on the real stack: authentication, roles,
tenant isolation, revocation, chat (plain and streamed) and embeddings, and the spend and
upstream-error metrics, against the fake providers process."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from keyrelay.common.rpc import secure_channel
from keyrelay.v1 import keyvault_pb2, keyvault_pb2_grpc
from tests.e2e.harness import RunningStack
from tests.e2e.providers import Fakes

pytestmark = pytest.mark.e2e


MODEL = "openai/gpt-4o-mini"


async def kv(stack: RunningStack, rpc: str, request: Any, tenant: str) -> Any:
    async with secure_channel(stack.grpc_addr("keyvault"), stack.tls_dir, "portal") as channel:
        return await getattr(keyvault_pb2_grpc.KeyVaultStub(channel), rpc)(
            request, metadata=(("x-keyrelay-tenant", tenant),), timeout=10
        )


async def issue_key(
    stack: RunningStack, tenant: str, role: int = keyvault_pb2.ACCESS_KEY_ROLE_FULL_ACCESS
) -> keyvault_pb2.IssueAccessKeyResponse:
    request = keyvault_pb2.IssueAccessKeyRequest(tenant_id=tenant, name="e2e", role=role)
    return await kv(stack, "IssueAccessKey", request, tenant)


async def tenant_with_openai_key(stack: RunningStack, tenant: str) -> tuple[str, str, str]:
    """(kr_ access key, its key id, the tenant's OpenAI key)."""
    provider_key = "sk-" + secrets.token_hex(24)
    await kv(
        stack,
        "PutKey",
        keyvault_pb2.PutKeyRequest(tenant_id=tenant, service_id="openai", value=provider_key),
        tenant,
    )
    issued = await issue_key(stack, tenant)
    return issued.key, issued.metadata.key_id, provider_key


def portal(stack: RunningStack, token: str | None = None, **headers: str) -> httpx.AsyncClient:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(base_url=stack.portal_url, headers=headers, timeout=30)


def chat_body(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": "Say hello"}], **fields}


def sse_events(text: str) -> list[Any]:
    lines = [line[6:] for line in text.split("\n\n") if line.startswith("data: ")]
    return [line if line == "[DONE]" else json.loads(line) for line in lines]


async def test_missing_and_wrong_tokens_get_401_with_the_error_shape(stack: RunningStack) -> None:
    async with portal(stack) as client:
        missing = await client.post("/v1/chat/completions", json=chat_body())
    assert missing.status_code == 401
    error = missing.json()["error"]
    assert set(error) == {"type", "message", "request_id"} and error["type"] == "unauthenticated"
    assert "Bearer" in error["message"] and error["request_id"] == missing.headers["x-request-id"]
    for token in ("kr_" + secrets.token_urlsafe(32), "not-a-token"):
        async with portal(stack, token) as client:
            wrong = await client.get("/v1/models")
        assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "unauthenticated"


async def test_chat_reaches_the_provider_with_that_tenants_key(stack: RunningStack, fakes: Fakes) -> None:
    key, _, provider_key = await tenant_with_openai_key(stack, "p-chat")
    fakes.reset()
    async with portal(stack, key) as client:
        reply = await client.post("/v1/chat/completions", json=chat_body(max_tokens=50, extra_field=1))
    assert reply.status_code == 200, reply.text
    out = reply.json()
    assert out["object"] == "chat.completion" and out["model"] == MODEL and out["id"]
    assert out["choices"][0]["message"]["role"] == "assistant" and out["choices"][0]["message"]["content"]
    assert out["choices"][0]["finish_reason"] in ("stop", "length")
    usage = out["usage"]
    assert (
        usage["prompt_tokens"] > 0
        and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    )
    assert out["keyrelay"]["route"]["key_source"] == "tenant" and out["keyrelay"]["cost_usd"] > 0
    assert [r["api_key"] for r in fakes.requests("openai")] == [provider_key]

    # The platform admin may act for a tenant it names.
    admin = (stack.data_dir / "admin-token").read_text().strip()
    async with portal(stack, admin, **{"X-Tenant-ID": "p-chat"}) as client:
        assert (await client.post("/v1/chat/completions", json=chat_body())).status_code == 200


async def test_streaming_gives_openai_chunks_with_the_same_text(stack: RunningStack) -> None:
    key, _, _ = await tenant_with_openai_key(stack, "p-stream")
    async with portal(stack, key) as client:
        plain = (await client.post("/v1/chat/completions", json=chat_body())).json()
        streamed = await client.post(
            "/v1/chat/completions", json=chat_body(stream=True, stream_options={"include_usage": True})
        )
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == plain["choices"][0]["message"]["content"]
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1 and finish[0]["keyrelay"]["route"]["model"] == MODEL
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0

    # What fails before the first chunk is an HTTP error with its status, not an event.
    async with portal(stack, key) as client:
        unknown = await client.post("/v1/chat/completions", json=chat_body(model="nope/none", stream=True))
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found"


async def test_x_tenant_id_of_another_tenant_is_refused(stack: RunningStack) -> None:
    key, _, _ = await tenant_with_openai_key(stack, "p-own")
    async with portal(stack, key, **{"X-Tenant-ID": "p-other"}) as client:
        refused = await client.post("/v1/chat/completions", json=chat_body())
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_denied"


async def test_a_read_only_key_lists_models_but_cannot_chat(stack: RunningStack) -> None:
    issued = await issue_key(stack, "p-reader", keyvault_pb2.ACCESS_KEY_ROLE_READ_ONLY)
    async with portal(stack, issued.key) as client:
        chat = await client.post("/v1/chat/completions", json=chat_body())
        models = await client.get("/v1/models")
    assert chat.status_code == 403 and "read_only" in chat.json()["error"]["message"]
    assert models.status_code == 200 and models.json()["object"] == "list"
    assert MODEL in {m["id"] for m in models.json()["data"]}


async def test_an_access_keys_rate_limit_gives_429_with_retry_after(stack: RunningStack) -> None:
    await tenant_with_openai_key(stack, "p-limited")
    request = keyvault_pb2.IssueAccessKeyRequest(
        tenant_id="p-limited", name="limited", role=keyvault_pb2.ACCESS_KEY_ROLE_FULL_ACCESS, rate_limit=2
    )
    limited = await kv(stack, "IssueAccessKey", request, "p-limited")
    async with portal(stack, limited.key) as client:
        statuses = [(await client.post("/v1/chat/completions", json=chat_body())) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429], statuses[-1].text
    refused = statuses[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    error = refused.json()["error"]
    assert error["type"] == "rate_limited" and "2 requests per minute" in error["message"]
    assert error["request_id"] == refused.headers["x-request-id"]


async def test_a_revoked_access_key_is_refused_within_two_seconds(stack: RunningStack) -> None:
    key, key_id, _ = await tenant_with_openai_key(stack, "p-revoke")
    async with portal(stack, key) as client:
        assert (await client.get("/v1/models")).status_code == 200  # now in the portal's cache
        await kv(
            stack,
            "RevokeAccessKey",
            keyvault_pb2.RevokeAccessKeyRequest(tenant_id="p-revoke", key_id=key_id, reason="e2e"),
            "p-revoke",
        )
        deadline = time.monotonic() + 2
        status = 200
        while time.monotonic() < deadline:
            status = (await client.get("/v1/models")).status_code
            if status == 401:
                break
            await asyncio.sleep(0.05)
    assert status == 401


async def test_embeddings_answer_the_openai_list(stack: RunningStack, fakes: Fakes) -> None:
    key, _, provider_key = await tenant_with_openai_key(stack, "p-embed")
    fakes.reset()
    async with portal(stack, key) as client:
        reply = await client.post(
            "/v1/embeddings", json={"model": "openai/text-embedding-3-small", "input": ["alpha", "beta"]}
        )
    assert reply.status_code == 200, reply.text
    out = reply.json()
    assert out["object"] == "list" and [d["index"] for d in out["data"]] == [0, 1]
    assert len(out["data"][0]["embedding"]) == 1536 and out["usage"]["prompt_tokens"] > 0
    assert fakes.requests("openai")[-1]["api_key"] == provider_key


async def test_the_official_openai_sdk_works_unchanged(stack: RunningStack) -> None:
    key, _, _ = await tenant_with_openai_key(stack, "p-sdk")
    client = openai.AsyncOpenAI(base_url=f"{stack.portal_url}/v1", api_key=key, max_retries=0)
    try:
        completion = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Say hello"}]
        )
        assert completion.choices[0].message.content and completion.usage.total_tokens > 0
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Say hello"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        parts, usage = [], None
        async for chunk in stream:
            parts += [c.delta.content or "" for c in chunk.choices]
            usage = chunk.usage or usage
        assert "".join(parts) == completion.choices[0].message.content and usage is not None
        embedded = await client.embeddings.create(model="openai/text-embedding-3-small", input="alpha")
        assert len(embedded.data[0].embedding) == 1536
        with pytest.raises(openai.AuthenticationError):
            await openai.AsyncOpenAI(
                base_url=f"{stack.portal_url}/v1", api_key="kr_wrong", max_retries=0
            ).models.list()
    finally:
        await client.close()


# -- /metrics: spend and upstream errors (last in the module: it scripts provider failures) --

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SPEND = ("keyrelay_spend_usd_total", frozenset({("provider", "openai"), ("task", "chat")}))
ERRORS = "keyrelay_upstream_errors_total"


async def scrape(client: httpx.AsyncClient) -> Samples:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def rose(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much the samples of `name` whose labels include `labels` rose, summed."""

    def total(samples: Samples) -> float:
        wanted = set(labels.items())
        return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)

    return total(after) - total(before)


async def test_metrics_count_the_spend_of_each_answer_and_provider_failures(
    stack: RunningStack, fakes: Fakes
) -> None:
    key, _, _ = await tenant_with_openai_key(stack, "p-metrics")
    fakes.reset()
    async with portal(stack, key) as client:
        before = await scrape(client)
        reply = await client.post("/v1/chat/completions", json=chat_body())
        after = await scrape(client)
        assert reply.status_code == 200, reply.text
        cost = reply.json()["keyrelay"]["cost_usd"]
        assert cost > 0
        assert after[SPEND] - before.get(SPEND, 0.0) == pytest.approx(cost, abs=1e-9)

        streamed = await client.post("/v1/chat/completions", json=chat_body(stream=True))
        finish = [e for e in sse_events(streamed.text) if e != "[DONE]" and "keyrelay" in e]
        after_stream = await scrape(client)
        assert len(finish) == 1, streamed.text
        streamed_cost = finish[0]["keyrelay"]["cost_usd"]
        assert after_stream[SPEND] - after[SPEND] == pytest.approx(streamed_cost, abs=1e-9)

        # The provider fails: the router gives up (an explicit model does not fail over) with
        # an upstream_error (gRPC UNKNOWN); the portal answers 502 and counts it once, as the
        # router's, with that code (the middleware's fallback does not count it again).
        fakes.script("openai", {"kind": "fail", "status": 500})
        failed = await client.post("/v1/chat/completions", json=chat_body())
        after_failure = await scrape(client)
        assert failed.status_code == 502 and failed.json()["error"]["type"] == "upstream_error"
        assert rose(after_stream, after_failure, ERRORS, service="router", code="UNKNOWN") == 1
        assert rose(after_stream, after_failure, ERRORS) == 1, "counted once"
        assert after_failure[SPEND] == after_stream[SPEND]

        # The stream breaks after some output: a 200 ending in an error event, still counted.
        fakes.script("openai", {"kind": "cut", "after_chunks": 2})
        cut = await client.post("/v1/chat/completions", json=chat_body(stream=True))
        after_cut = await scrape(client)
        assert cut.status_code == 200 and "error" in sse_events(cut.text)[-2], cut.text
        assert rose(after_failure, after_cut, ERRORS, service="router") == 1
        text = (await client.get("/metrics")).text
    fakes.reset()
    assert "p-metrics" not in text and key not in text
