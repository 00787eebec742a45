"""portal-api's models & usage family (`/api/brain/openrouter/...`), `/api/brain/ai/chat` and
the portal's usage-stats on the real stack against the fake providers: the catalog, routed
completions with their route and cost, streaming, the ledger and analytics, benchmark, and
the tenant-path and role rules."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from keyrelay.v1 import keyvault_pb2
from tests.e2e.harness import RunningStack
from tests.e2e.test_portal_openai import issue_key, portal, tenant_with_openai_key

pytestmark = pytest.mark.e2e

MODEL = "openai/gpt-4o-mini"
OTHER = "openai/gpt-4.1-nano"
TENANT = "m-usage"


def sse_events(text: str) -> list[Any]:
    lines = [line[6:] for line in text.split("\n\n") if line.startswith("data: ")]
    return [line if line == "[DONE]" else json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def tenant_key(stack: RunningStack) -> Iterator[str]:
    key, _, _ = asyncio.run(tenant_with_openai_key(stack, TENANT))
    yield key


async def poll(client: httpx.AsyncClient, path: str, done: Any, seconds: float = 10) -> httpx.Response:
    """GET `path` until `done(json)` holds (the ledger is written just after the answer)."""
    deadline = time.monotonic() + seconds
    while True:
        reply = await client.get(path)
        assert reply.status_code == 200, reply.text
        if done(reply.json()) or time.monotonic() > deadline:
            return reply
        await asyncio.sleep(0.1)


async def test_model_list_filters_and_detail_with_a_slash(stack: RunningStack, tenant_key: str) -> None:
    async with portal(stack, tenant_key) as client:
        listed = await client.get("/api/brain/openrouter/models")
        openai_code = await client.get(
            "/api/brain/openrouter/models", params={"provider": "openai", "task": "code"}
        )
        low = await client.get("/api/brain/openrouter/models", params={"tier": "low"})
        detail = await client.get(f"/api/brain/openrouter/models/{MODEL}")
        missing = await client.get("/api/brain/openrouter/models/nope/none")
        bad_tier = await client.get("/api/brain/openrouter/models", params={"tier": "cheap"})
    assert listed.status_code == 200 and listed.json()["count"] == len(listed.json()["models"]) > 10
    assert MODEL in {m["id"] for m in listed.json()["models"]}
    filtered = openai_code.json()["models"]
    assert filtered and all(m["provider"] == "openai" and "code" in m["tasks"] for m in filtered)
    assert {m["budget_tier"] for m in low.json()["models"]} <= {"FREE", "LOW"}
    assert detail.status_code == 200, detail.text
    model = detail.json()
    assert model["id"] == MODEL and model["provider"] == "openai" and model["budget_tier"] == "LOW"
    assert model["pricing"]["input_per_mtok_usd"] > 0 and model["context_window"] > 0
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    assert bad_tier.status_code == 400


async def test_completions_route_auto_with_a_task_and_report_route_and_cost(
    stack: RunningStack,
    tenant_key: str,
) -> None:
    async with portal(stack, tenant_key) as client:
        reply = await client.post(
            "/api/brain/openrouter/completions",
            json={"prompt": "Write a haiku", "model": "auto", "task_type": "code", "max_tokens": 40},
        )
        explicit = await client.post(
            "/api/brain/openrouter/completions",
            json={"messages": [{"role": "user", "content": "Say hello"}], "model": MODEL},
        )
        neither = await client.post("/api/brain/openrouter/completions", json={"model": "auto"})
    assert reply.status_code == 200, reply.text
    out = reply.json()
    assert out["id"] and out["content"] and out["finish_reason"] in ("stop", "length")
    assert out["usage"]["prompt_tokens"] > 0 and out["cost_usd"] > 0 and out["cost_micros"] > 0
    route = out["route"]
    assert route["provider"] == "openai" and route["model"].startswith("openai/")
    assert route["key_source"] == "tenant" and route["reason"] and route["attempts"]
    assert explicit.status_code == 200 and explicit.json()["route"]["model"] == MODEL
    assert neither.status_code == 422


async def test_ai_chat_plain_and_streamed(stack: RunningStack, tenant_key: str) -> None:
    async with portal(stack, tenant_key) as client:
        plain = await client.post(
            "/api/brain/ai/chat",
            json={"message": "Say hello", "task_type": "chat", "model_preference": MODEL},
        )
        streamed = await client.post(
            "/api/brain/ai/chat",
            json={
                "messages": [{"role": "user", "content": "Say hello"}],
                "model_preference": MODEL,
                "stream": True,
            },
        )
        unknown = await client.post(
            "/api/brain/ai/chat", json={"message": "x", "model_preference": "nope/none", "stream": True}
        )
    assert plain.status_code == 200, plain.text
    answer = plain.json()
    assert answer["content"] and answer["route"]["model"] == MODEL and answer["cost_usd"] > 0
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed.text)
    assert events[-1] == "[DONE]"
    deltas, final = events[:-2], events[-2]
    assert deltas and all(set(e) == {"delta"} for e in deltas)
    assert "".join(e["delta"] for e in deltas) == answer["content"]
    assert final["done"] is True and final["route"]["model"] == MODEL
    assert final["usage"]["completion_tokens"] > 0 and final["cost_micros"] > 0
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found"


async def test_usage_analytics_and_usage_stats_show_the_calls(stack: RunningStack, tenant_key: str) -> None:
    async with portal(stack, tenant_key) as client:
        made = await client.post(
            "/api/brain/openrouter/completions", json={"prompt": "count me", "model": MODEL}
        )
        assert made.status_code == 200, made.text
        call_id = made.json()["id"]
        usage = await poll(
            client,
            f"/api/brain/openrouter/usage/{TENANT}",
            lambda j: call_id in {r["id"] for r in j["records"]},
        )
        records = usage.json()["records"]
        record = next(r for r in records if r["id"] == call_id)
        assert record["model"] == MODEL and record["success"] and record["key_source"] == "tenant"
        assert record["cost_micros"] == made.json()["cost_micros"] and record["created_at"]
        page = (await client.get(f"/api/brain/openrouter/usage/{TENANT}", params={"limit": 1})).json()
        assert page["count"] == 1 and (page["next_cursor"] is not None) == (len(records) > 1)
        if page["next_cursor"]:
            second = await client.get(
                f"/api/brain/openrouter/usage/{TENANT}", params={"limit": 1, "cursor": page["next_cursor"]}
            )
            assert second.json()["records"][0]["id"] != page["records"][0]["id"]

        by_model = await poll(
            client,
            f"/api/brain/openrouter/analytics/{TENANT}?group_by=model",
            lambda j: j["totals"]["requests"] >= len(records),
        )
        analytics = by_model.json()
        assert analytics["group_by"] == "model" and MODEL in {b["key"] for b in analytics["buckets"]}
        assert analytics["totals"]["cost_micros"] >= record["cost_micros"] > 0
        assert isinstance(analytics["recommendations"], list)
        by_day = (await client.get(f"/api/brain/openrouter/analytics/{TENANT}")).json()
        assert by_day["group_by"] == "day" and len(by_day["buckets"][0]["key"]) == 10
        assert (
            await client.get(f"/api/brain/openrouter/analytics/{TENANT}?group_by=hour")
        ).status_code == 422

        stats = await client.get(f"/api/brain/portal/tenant/{TENANT}/usage-stats")
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["totals"]["requests"] >= 1 and body["totals"]["cost_usd"] > 0
    assert MODEL in {b["key"] for b in body["by_model"]}
    budget = body["budget"]
    assert budget["has_limit"] is False and budget["spent_micros"] > 0 and budget["period_start"]


async def test_benchmark_runs_two_models(stack: RunningStack, tenant_key: str) -> None:
    async with portal(stack, tenant_key) as client:
        reply = await client.post(
            "/api/brain/openrouter/benchmark",
            json={"prompt": "Say hello", "models": [MODEL, OTHER], "max_tokens": 20},
        )
    assert reply.status_code == 200, reply.text
    out = reply.json()
    assert [r["model"] for r in out["results"]] == [MODEL, OTHER]
    assert all(r["success"] and r["output"] and r["cost_micros"] > 0 for r in out["results"])
    assert out["recommended_model"] in (MODEL, OTHER) and out["recommendation"]


async def test_a_foreign_tenant_path_is_403(stack: RunningStack, tenant_key: str) -> None:
    async with portal(stack, tenant_key) as client:
        for path in (
            "/api/brain/openrouter/usage/m-other",
            "/api/brain/openrouter/analytics/m-other",
            "/api/brain/portal/tenant/m-other/usage-stats",
        ):
            refused = await client.get(path)
            assert refused.status_code == 403, path
            assert refused.json()["error"]["type"] == "permission_denied"


async def test_read_only_reads_usage_but_cannot_run_completions(stack: RunningStack) -> None:
    issued = await issue_key(stack, TENANT, keyvault_pb2.ACCESS_KEY_ROLE_READ_ONLY)
    async with portal(stack, issued.key) as client:
        completion = await client.post("/api/brain/openrouter/completions", json={"prompt": "hi"})
        chat = await client.post("/api/brain/ai/chat", json={"message": "hi"})
        bench = await client.post("/api/brain/openrouter/benchmark", json={"prompt": "hi", "models": [MODEL]})
        usage = await client.get(f"/api/brain/openrouter/usage/{TENANT}")
        stats = await client.get(f"/api/brain/portal/tenant/{TENANT}/usage-stats")
        models = await client.get("/api/brain/openrouter/models")
    for refused in (completion, chat, bench):
        assert refused.status_code == 403 and "read_only" in refused.json()["error"]["message"]
    assert usage.status_code == 200 and stats.status_code == 200 and models.status_code == 200


async def test_the_platform_admin_reads_any_tenants_usage(stack: RunningStack, tenant_key: str) -> None:
    admin = (stack.data_dir / "admin-token").read_text().strip()
    async with portal(stack, admin) as client:
        assert (await client.get(f"/api/brain/openrouter/usage/{TENANT}")).status_code == 200
        assert (await client.get(f"/api/brain/portal/tenant/{TENANT}/usage-stats")).status_code == 200
