"""llm-router-svc on the real stack, against fake providers that speak the real wire formats.

The fake providers run as their own process (the router reaches them over HTTP, as it
would reach api.openai.com); tests script their behaviour through its control endpoints.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import grpc
import nats
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from keyrelay.common.db import create_asyncpg_pool, create_engine
from keyrelay.common.rpc import secure_channel
from keyrelay.router.adapters.ledger import ledger_row
from keyrelay.router.adapters.store import RouterStore
from keyrelay.v1 import common_pb2, keyvault_pb2, keyvault_pb2_grpc, router_pb2, router_pb2_grpc
from tests.e2e.harness import RunningStack
from tests.e2e.providers import Fakes

pytestmark = pytest.mark.e2e


PREFIXES = {"anthropic": "sk-ant-api03-", "groq": "gsk_", "openrouter": "sk-or-v1-"}


def fake_key(provider: str = "openai") -> str:
    """Obviously fake, generated, in the provider's documented shape (the vault checks it)."""
    if provider == "gemini":
        return "AIza" + secrets.token_hex(18)[:35]  # Google API keys: AIza + 35 characters
    return PREFIXES.get(provider, "sk-") + secrets.token_hex(24)


async def kv(stack: RunningStack, rpc: str, request: Any, tenant: str) -> Any:
    async with secure_channel(stack.grpc_addr("keyvault"), stack.tls_dir, "portal") as channel:
        return await getattr(keyvault_pb2_grpc.KeyVaultStub(channel), rpc)(
            request, metadata=(("x-keyrelay-tenant", tenant),), timeout=10
        )


async def router(stack: RunningStack, rpc: str, request: Any, tenant: str, address: str | None = None) -> Any:
    async with secure_channel(address or stack.grpc_addr("router"), stack.tls_dir, "portal") as channel:
        call = getattr(router_pb2_grpc.RouterStub(channel), rpc)
        metadata = (("x-keyrelay-tenant", tenant),)
        if rpc == "CompleteStream":
            return [chunk async for chunk in call(request, metadata=metadata, timeout=20)]
        return await call(request, metadata=metadata, timeout=20)


async def store_key(stack: RunningStack, tenant: str, service: str, value: str) -> None:
    await kv(
        stack, "PutKey", keyvault_pb2.PutKeyRequest(tenant_id=tenant, service_id=service, value=value), tenant
    )


async def set_settings(stack: RunningStack, tenant: str, **fields: Any) -> None:
    settings = router_pb2.TenantSettings(tenant_id=tenant, **fields)
    await router(stack, "PutTenantSettings", router_pb2.PutTenantSettingsRequest(settings=settings), tenant)


def chat(tenant: str, text: str = "Say hello", **fields: Any) -> router_pb2.CompleteRequest:
    return router_pb2.CompleteRequest(
        tenant_id=tenant, messages=[router_pb2.ChatMessage(role="user", content=text)], **fields
    )


async def test_a_tenant_request_reaches_the_provider_with_that_tenant_key(
    stack: RunningStack, fakes: Fakes
) -> None:
    fakes.reset()
    key_a, key_b = fake_key(), fake_key()
    await store_key(stack, "r-alpha", "openai", key_a)
    await store_key(stack, "r-beta", "openai", key_b)
    reply = await router(stack, "Complete", chat("r-alpha", model="openai/gpt-4o-mini"), "r-alpha")
    assert reply.content and reply.route.model == "openai/gpt-4o-mini"
    assert reply.route.key_source == common_pb2.KEY_SOURCE_TENANT
    assert reply.usage.prompt_tokens > 0 and reply.cost_micros > 0
    await router(stack, "Complete", chat("r-beta", model="openai/gpt-4o-mini"), "r-beta")
    seen = [r["api_key"] for r in fakes.requests("openai")]
    assert seen == [key_a, key_b]


async def test_platform_key_only_when_the_tenant_allows_it(stack: RunningStack, fakes: Fakes) -> None:
    platform = fake_key()
    async with secure_channel(stack.grpc_addr("keyvault"), stack.tls_dir, "portal") as channel:
        await keyvault_pb2_grpc.KeyVaultStub(channel).PutPlatformSecret(
            keyvault_pb2.PutPlatformSecretRequest(
                name="providers/mistral/production", fields={"api_key": platform}
            ),
            timeout=10,
        )
    request = chat("r-noown", model="mistral/mistral-small")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await router(stack, "Complete", request, "r-noown")
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    await set_settings(
        stack, "r-noown", allow_platform_fallback=True, budget_tier=common_pb2.BUDGET_TIER_HIGH
    )
    reply = await router(stack, "Complete", request, "r-noown")
    assert reply.route.key_source == common_pb2.KEY_SOURCE_PLATFORM
    assert fakes.requests("mistral")[-1]["api_key"] == platform


async def test_failover_on_429_500_and_a_hang_reports_every_attempt(
    stack: RunningStack, fakes: Fakes
) -> None:
    tenant = "r-failover"
    for provider in ("openai", "deepseek", "mistral", "groq"):
        await store_key(stack, tenant, provider, fake_key(provider))
    await set_settings(
        stack,
        tenant,
        preferred_providers=["openai", "deepseek", "mistral", "groq"],
        budget_tier=common_pb2.BUDGET_TIER_HIGH,
    )
    fakes.reset()
    fakes.script("openai", {"kind": "fail", "status": 429, "retry_after": 1})
    fakes.script("deepseek", {"kind": "fail", "status": 500})
    fakes.script("mistral", {"kind": "hang", "seconds": 10})
    reply = await router(stack, "Complete", chat(tenant), tenant)
    tried = [
        (a.provider, a.outcome)
        for a in reply.route.attempts
        if a.outcome != common_pb2.ATTEMPT_OUTCOME_SKIPPED
    ]
    assert tried[:3] == [
        ("openai", common_pb2.ATTEMPT_OUTCOME_RETRYABLE_ERROR),
        ("deepseek", common_pb2.ATTEMPT_OUTCOME_RETRYABLE_ERROR),
        ("mistral", common_pb2.ATTEMPT_OUTCOME_RETRYABLE_ERROR),
    ]
    assert tried[-1] == ("groq", common_pb2.ATTEMPT_OUTCOME_SUCCESS) and reply.route.provider == "groq"
    assert reply.route.attempts[0].upstream_status == 429

    fakes.script("openai", {"kind": "fail", "status": 400, "message": "bad parameter"})
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await router(stack, "Complete", chat(tenant), tenant)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "openai" in bad.value.details()


async def test_streams_from_openai_and_anthropic_formats_are_the_same_chunks(
    stack: RunningStack, fakes: Fakes
) -> None:
    tenant = "r-stream"
    await store_key(stack, tenant, "openai", fake_key())
    await store_key(stack, tenant, "anthropic", fake_key("anthropic"))
    await set_settings(stack, tenant, budget_tier=common_pb2.BUDGET_TIER_HIGH)
    fakes.reset()
    texts, finals = {}, {}
    for model in ("openai/gpt-4o-mini", "anthropic/claude-3-5-haiku"):
        chunks = await router(stack, "CompleteStream", chat(tenant, model=model), tenant)
        texts[model] = "".join(c.delta for c in chunks)
        finals[model] = chunks[-1].final
    assert len(set(texts.values())) == 1 and texts["openai/gpt-4o-mini"]
    for model, final in finals.items():
        assert final.usage.completion_tokens > 0 and not final.usage.estimated, model
        assert final.cost_micros > 0 and final.route.model == model

    fakes.script("openai", {"kind": "cut", "after_chunks": 2})
    with pytest.raises(grpc.aio.AioRpcError) as cut:
        await asyncio.wait_for(
            router(stack, "CompleteStream", chat(tenant, model="openai/gpt-4o-mini"), tenant), 15
        )
    assert cut.value.code() != grpc.StatusCode.OK and "stream" in cut.value.details()


async def test_budget_holds_across_two_replicas_under_concurrency(stack: RunningStack, fakes: Fakes) -> None:
    tenant = "r-budget"
    await store_key(stack, tenant, "openai", fake_key())
    request = chat(tenant, model="openai/gpt-4o-mini", max_tokens=100)
    fakes.reset()
    # What one call costs, and the most it could cost (what the router reserves for it).
    probe = await router(stack, "Complete", request, tenant)
    one_call = probe.cost_micros
    model = (
        await router(stack, "GetModel", router_pb2.GetModelRequest(model_id="openai/gpt-4o-mini"), tenant)
    ).model
    max_cost = round(
        probe.usage.prompt_tokens * 2 * model.input_price_per_mtok + 100 * model.output_price_per_mtok
    )
    budget = one_call + 50 * one_call  # the probe, then room for 50 more
    await set_settings(stack, tenant, max_monthly_cost_usd=budget / 1e6)

    with stack.replica("router", "router-2", **fakes.base_url_env()) as other:
        addresses = [stack.grpc_addr("router"), other]

        async def one(i: int) -> int:
            try:
                return (
                    await router(stack, "Complete", request, tenant, address=addresses[i % 2])
                ).cost_micros
            except grpc.aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "budget_exceeded" in err.details()
                return -1

        results = await asyncio.gather(*(one(i) for i in range(200)))
    answered = [c for c in results if c >= 0]
    spent = one_call + sum(answered)
    assert 0 < len(answered) < 200, "the budget must stop some requests and allow others"
    assert spent <= budget + max_cost, f"spent {spent} micro-USD against a budget of {budget}"
    for _ in range(50):  # settlements complete just after the answers
        state = await router(stack, "GetBudget", router_pb2.GetBudgetRequest(tenant_id=tenant), tenant)
        if state.reserved_micros == 0:
            break
        await asyncio.sleep(0.1)
    assert state.spent_micros == spent and state.reserved_micros == 0

    # The ledger, written from the usage events by the durable consumer, matches to the cent.
    events: list[dict[str, Any]] = []
    for _ in range(50):  # usage events are published in batches, a moment after the answer
        events = await usage_events(stack, tenant)
        if len(events) == 1 + len(answered):
            break
        await asyncio.sleep(0.2)
    assert sum(e["data"]["cost_micros"] for e in events) == spent
    for _ in range(50):
        usage = await router(
            stack,
            "GetUsage",
            router_pb2.GetUsageRequest(tenant_id=tenant, page=common_pb2.PageRequest(page_size=1000)),
            tenant,
        )
        if len(usage.records) == len(events):
            break
        await asyncio.sleep(0.2)
    assert sum(r.cost_micros for r in usage.records) == spent


async def usage_events(stack: RunningStack, tenant: str) -> list[dict[str, Any]]:
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(f"keyrelay.usage.{tenant}", durable=None, stream="KEYRELAY_USAGE")
        events: list[dict[str, Any]] = []
        while True:
            try:
                batch = await sub.fetch(500, timeout=1)
            except nats.errors.TimeoutError:
                return [e for e in events if e["data"]["success"]]
            events += [json.loads(m.data) for m in batch]
    finally:
        await nc.close()


async def test_auto_routing_follows_task_tier_and_preference_and_says_why(
    stack: RunningStack, fakes: Fakes
) -> None:
    tenant = "r-auto"
    for provider in ("openai", "anthropic", "deepseek", "mistral", "gemini"):
        await store_key(stack, tenant, provider, fake_key(provider))
    await set_settings(stack, tenant, budget_tier=common_pb2.BUDGET_TIER_LOW)
    low_chat = await router(stack, "Complete", chat(tenant), tenant)
    await set_settings(stack, tenant, budget_tier=common_pb2.BUDGET_TIER_HIGH)
    reasoning = await router(
        stack, "Complete", chat(tenant, task_type=common_pb2.TASK_TYPE_REASONING), tenant
    )
    assert low_chat.route.model != reasoning.route.model
    assert "chat within tier LOW" in low_chat.route.reason and "cheapest" in low_chat.route.reason
    assert "reasoning within tier HIGH" in reasoning.route.reason
    models = {
        m.id: m for m in (await router(stack, "ListModels", router_pb2.ListModelsRequest(), tenant)).models
    }
    assert models[low_chat.route.model].budget_tier <= common_pb2.BUDGET_TIER_LOW
    assert common_pb2.TASK_TYPE_REASONING in models[reasoning.route.model].tasks

    await set_settings(
        stack, tenant, budget_tier=common_pb2.BUDGET_TIER_HIGH, preferred_providers=["anthropic"]
    )
    preferred = await router(stack, "Complete", chat(tenant), tenant)
    assert (
        preferred.route.provider == "anthropic" and "preferred provider anthropic" in preferred.route.reason
    )


async def test_a_tripped_circuit_skips_the_provider_until_its_cooldown_ends(
    stack: RunningStack, fakes: Fakes
) -> None:
    tenant = "r-circuit"
    await store_key(stack, tenant, "cohere", fake_key("cohere"))
    await store_key(stack, tenant, "mistral", fake_key("mistral"))
    await set_settings(
        stack, tenant, preferred_providers=["cohere", "mistral"], budget_tier=common_pb2.BUDGET_TIER_HIGH
    )
    fakes.reset()
    fakes.script("cohere", *[{"kind": "fail", "status": 503}] * 3)
    for _ in range(3):  # three consecutive server errors open cohere's circuit for this key
        reply = await router(stack, "Complete", chat(tenant), tenant)
        assert reply.route.provider == "mistral"
    before = len(fakes.requests("cohere"))
    reply = await router(stack, "Complete", chat(tenant), tenant)
    assert len(fakes.requests("cohere")) == before, "an open circuit must not call the provider"
    assert any("circuit open" in a.error for a in reply.route.attempts)


async def test_missing_provider_usage_is_counted_and_marked_estimated(
    stack: RunningStack, fakes: Fakes
) -> None:
    tenant = "r-estimate"
    await store_key(stack, tenant, "openai", fake_key())
    fakes.script("openai", {"kind": "ok", "usage": False}, {"kind": "ok", "usage": False})
    reply = await router(stack, "Complete", chat(tenant, model="openai/gpt-4o-mini"), tenant)
    assert reply.usage.estimated and reply.usage.completion_tokens > 0 and reply.cost_micros > 0
    chunks = await router(stack, "CompleteStream", chat(tenant, model="openai/gpt-4o-mini"), tenant)
    assert chunks[-1].final.usage.estimated and chunks[-1].final.cost_micros > 0


async def test_embeddings_go_through_the_same_keys_and_accounting(stack: RunningStack, fakes: Fakes) -> None:
    tenant = "r-embed"
    key = fake_key()
    await store_key(stack, tenant, "openai", key)
    fakes.reset()
    request = router_pb2.EmbedRequest(
        tenant_id=tenant, inputs=["alpha beta", "gamma"], model="openai/text-embedding-3-small"
    )
    reply = await router(stack, "Embed", request, tenant)
    assert [e.index for e in reply.embeddings] == [0, 1] and len(reply.embeddings[0].values) == 1536
    assert reply.route.key_source == common_pb2.KEY_SOURCE_TENANT and reply.cost_micros >= 0
    assert fakes.requests("openai")[-1]["api_key"] == key


async def test_access_key_rate_limit_is_enforced(stack: RunningStack, fakes: Fakes) -> None:
    tenant = "r-limits"
    await store_key(stack, tenant, "openai", fake_key())
    request = chat(tenant, model="openai/gpt-4o-mini", access_key_id="ak_limits", access_key_rate_limit=3)
    answered = 0
    for _ in range(8):  # three fit in a minute; up to six if the minute turned meanwhile
        try:
            await router(stack, "Complete", request, tenant)
            answered += 1
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "3 requests per minute" in err.details()
            break
    assert 3 <= answered <= 6


async def test_benchmark_runs_models_side_by_side_and_recommends_one(
    stack: RunningStack, fakes: Fakes
) -> None:
    tenant = "r-bench"
    await store_key(stack, tenant, "openai", fake_key())
    await store_key(stack, tenant, "deepseek", fake_key("deepseek"))
    await set_settings(stack, tenant, budget_tier=common_pb2.BUDGET_TIER_HIGH)
    request = router_pb2.BenchmarkRequest(
        tenant_id=tenant,
        prompt="Name three colours.",
        models=["openai/gpt-4o-mini", "deepseek/deepseek-chat", "anthropic/claude-3-5-haiku"],
    )
    reply = await router(stack, "Benchmark", request, tenant)
    by_model = {r.model: r for r in reply.results}
    assert [r.model for r in reply.results] == list(request.models)
    assert by_model["openai/gpt-4o-mini"].output and by_model["deepseek/deepseek-chat"].cost_micros > 0
    assert by_model["anthropic/claude-3-5-haiku"].error, (
        "no anthropic key: that one fails, the others still run"
    )
    assert (
        reply.recommended_model in ("openai/gpt-4o-mini", "deepseek/deepseek-chat") and reply.recommendation
    )


async def test_tenant_tokens_per_minute_limit_is_enforced(stack: RunningStack, fakes: Fakes) -> None:
    tenant = "r-tpm"
    await store_key(stack, tenant, "openai", fake_key())
    await set_settings(stack, tenant, tokens_per_minute=150)
    request = chat(tenant, model="openai/gpt-4o-mini", max_tokens=60)  # ~65 tokens counted per call
    answered = 0
    for _ in range(4):  # two fit in a minute; a third only if the minute turned meanwhile
        try:
            await router(stack, "Complete", request, tenant)
            answered += 1
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "150 tokens per minute" in err.details()
            break
    assert 2 <= answered <= 3


async def test_analytics_group_the_ledger_and_recommend_cheaper_models(
    stack: RunningStack, fakes: Fakes
) -> None:
    tenant = "r-analytics"
    await store_key(stack, tenant, "openai", fake_key())
    await set_settings(stack, tenant, budget_tier=common_pb2.BUDGET_TIER_HIGH)
    long_prompt = " ".join(["word"] * 2000)
    for _ in range(3):
        await router(stack, "Complete", chat(tenant, long_prompt, model="openai/gpt-4o"), tenant)
    await router(stack, "Complete", chat(tenant, model="openai/gpt-4o-mini"), tenant)
    start = Timestamp()
    start.GetCurrentTime()
    start.seconds -= 3600
    request = router_pb2.GetAnalyticsRequest(
        tenant_id=tenant, start_time=start, group_by=router_pb2.ANALYTICS_GROUP_BY_MODEL
    )
    for _ in range(50):  # the ledger is written from usage events a moment later
        reply = await router(stack, "GetAnalytics", request, tenant)
        if reply.totals.requests == 4:
            break
        await asyncio.sleep(0.2)
    buckets = {b.key: b for b in reply.buckets}
    assert buckets["openai/gpt-4o"].requests == 3 and buckets["openai/gpt-4o-mini"].requests == 1
    assert reply.totals.cost_micros == sum(b.cost_micros for b in reply.buckets) > 0
    advice = [r for r in reply.recommendations if r.current_model == "openai/gpt-4o"]
    assert advice and advice[0].estimated_monthly_savings_usd > 0
    suggested = (
        await router(
            stack, "GetModel", router_pb2.GetModelRequest(model_id=advice[0].suggested_model), tenant
        )
    ).model
    assert suggested.input_price_per_mtok < 2.5


async def test_a_redelivered_usage_event_is_written_once(stack: RunningStack) -> None:
    """JetStream redelivers a batch whose ack was lost: the ledger keeps one row per call."""
    event = {
        "id": "evt-" + secrets.token_hex(8),
        "tenantid": "ledger-replay",
        "time": "2026-12-03T10:00:00.5Z",
        "data": {
            "id": "chatcmpl-" + secrets.token_hex(8),
            "task_type": "chat",
            "provider": "openai",
            "model": "openai/gpt-4o-mini",
            "key_source": "tenant",
            "prompt_tokens": 12,
            "completion_tokens": 5,
            "estimated": False,
            "cost_micros": 41,
            "latency_ms": 3.25,
            "stream": False,
            "success": True,
        },
    }
    engine = create_engine(stack.database_url)
    pool = await create_asyncpg_pool(stack.database_url, size=1)
    try:
        store = RouterStore(engine, pool)
        row = ledger_row(event)
        assert await store.write_ledger([row]) == 1
        assert await store.write_ledger([row, row]) == 0
        stored = await pool.fetch("SELECT * FROM router_usage_ledger WHERE tenant_id = 'ledger-replay'")
    finally:
        await pool.close()
        await engine.dispose()
    assert len(stored) == 1
    assert stored[0]["cost_micros"] == 41 and stored[0]["latency_ms"] == 3.25 and stored[0]["attempts"] == 1
    assert stored[0]["created_at"].isoformat() == "2026-12-03T10:00:00.500000+00:00"


async def test_hot_path_pool_rolls_back_what_a_released_connection_left_open(stack: RunningStack) -> None:
    """The hot-path pools skip asyncpg's RESET ALL on release; an open transaction must still
    never reach the next user of the connection."""
    pool = await create_asyncpg_pool(
        stack.database_url, size=1, server_settings={"application_name": "kr-test"}
    )
    try:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE left_open (n int)")
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.left_open')") is None  # rolled back
            assert await conn.fetchval("SHOW application_name") == "kr-test"  # session settings kept
    finally:
        await pool.close()
