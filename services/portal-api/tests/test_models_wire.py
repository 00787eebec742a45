"""Models & usage bodies to router requests, and router answers to the family's JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from keyrelay.common.errors import InvalidArgument, KeyrelayError, RateLimited
from keyrelay.portal.domain import models_wire as wire
from keyrelay.portal.domain.auth import Caller
from keyrelay.v1 import common_pb2, router_pb2

CALLER = Caller("access_key", "acme", "full_access", "ak_1", 30)
MODEL = "openai/gpt-4o-mini"


def route() -> common_pb2.Route:
    return common_pb2.Route(
        provider="openai",
        model=MODEL,
        key_source=common_pb2.KEY_SOURCE_TENANT,
        reason="auto: cheapest",
        attempts=[common_pb2.Attempt(provider="openai", model=MODEL, outcome=1, latency_ms=12.34567)],
    )


def test_a_completion_prompt_becomes_one_user_message_with_task_and_limits() -> None:
    body = wire.CompletionBody.model_validate(
        {"prompt": "hi", "task_type": "CODE", "max_tokens": 20, "temperature": 0.5, "extra": 1}
    )
    request = wire.complete_request(body, CALLER)
    assert request.tenant_id == "acme" and request.access_key_id == "ak_1"
    assert request.access_key_rate_limit == 30 and request.model == "auto"
    assert [(m.role, m.content) for m in request.messages] == [("user", "hi")]
    assert request.task_type == common_pb2.TASK_TYPE_CODE
    assert request.max_tokens == 20 and request.temperature == 0.5
    assert not request.HasField("allow_failover")


def test_completion_messages_and_an_explicit_model() -> None:
    body = wire.CompletionBody.model_validate(
        {
            "messages": [{"role": "system", "content": "brief"}, {"role": "user", "content": "x"}],
            "model": MODEL,
        }
    )
    request = wire.complete_request(body, CALLER)
    assert request.model == MODEL and [m.role for m in request.messages] == ["system", "user"]
    assert request.task_type == common_pb2.TASK_TYPE_UNSPECIFIED
    assert not request.HasField("max_tokens") and not request.HasField("temperature")


def test_ai_chat_takes_message_or_messages_and_model_preference() -> None:
    one = wire.complete_request(
        wire.ChatBody.model_validate({"message": "hello", "task_type": "chat"}), CALLER
    )
    assert one.model == "auto" and one.messages[0].content == "hello"
    assert one.task_type == common_pb2.TASK_TYPE_CHAT
    many = wire.ChatBody.model_validate(
        {"messages": [{"role": "user", "content": "a"}], "model_preference": MODEL, "stream": True}
    )
    assert many.stream and wire.complete_request(many, CALLER).model == MODEL


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (wire.CompletionBody, {}),
        (wire.CompletionBody, {"prompt": "a", "messages": [{"role": "user", "content": "b"}]}),
        (wire.CompletionBody, {"prompt": "a", "task_type": "poetry"}),
        (wire.CompletionBody, {"prompt": "a", "max_tokens": 0}),
        (wire.ChatBody, {}),
        (wire.ChatBody, {"message": "a", "messages": [{"role": "user", "content": "b"}]}),
        (wire.BenchmarkBody, {"models": [MODEL]}),
        (wire.BenchmarkBody, {"prompt": "a", "models": [MODEL] * 11}),
    ],
)
def test_bad_bodies_are_refused(model: Any, fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(fields)


def test_a_bad_role_is_invalid_argument() -> None:
    body = wire.ChatBody.model_validate({"messages": [{"role": "robot", "content": "a"}]})
    with pytest.raises(InvalidArgument):
        wire.complete_request(body, CALLER)


def test_the_platform_admin_must_name_a_tenant_to_chat() -> None:
    with pytest.raises(InvalidArgument):
        wire.complete_request(wire.ChatBody(message="a"), Caller("admin", None, "admin"))


def test_model_filters_and_their_errors() -> None:
    request = wire.list_models_request("code", "low", "OpenAI")
    assert request.task == common_pb2.TASK_TYPE_CODE and request.tier == common_pb2.BUDGET_TIER_LOW
    assert request.provider == "openai"
    assert wire.list_models_request(None, None, None) == router_pb2.ListModelsRequest()
    with pytest.raises(InvalidArgument, match="tier must be one of"):
        wire.list_models_request(None, "cheap", None)
    with pytest.raises(InvalidArgument, match="task_type must be one of"):
        wire.list_models_request("poetry", None, None)


def test_usage_and_analytics_requests_carry_the_range_and_paging() -> None:
    since, until = datetime(2026, 1, 1), datetime(2026, 2, 1, tzinfo=UTC)
    request = wire.usage_request("acme", since, until, 10, "20")
    assert request.tenant_id == "acme" and request.page.page_size == 10 and request.page.page_token == "20"
    assert request.start_time.ToDatetime(tzinfo=UTC) == since.replace(tzinfo=UTC)
    assert request.end_time.ToDatetime(tzinfo=UTC) == until
    bare = wire.usage_request("acme", None, None, 50, None)
    assert not bare.HasField("start_time") and not bare.HasField("end_time")
    with pytest.raises(InvalidArgument):
        wire.usage_request("acme", until, since, 50, None)
    analytics = wire.analytics_request("acme", "provider", None, until)
    assert analytics.group_by == router_pb2.ANALYTICS_GROUP_BY_PROVIDER and analytics.HasField("end_time")
    with pytest.raises(InvalidArgument):
        wire.analytics_request("acme", "hour", None, None)


def test_benchmark_request() -> None:
    body = wire.BenchmarkBody.model_validate(
        {"prompt": "p", "models": [MODEL, "anthropic/x"], "max_tokens": 5}
    )
    request = wire.benchmark_request(body, CALLER)
    assert list(request.models) == [MODEL, "anthropic/x"] and request.max_tokens == 5
    assert request.tenant_id == "acme" and request.prompt == "p" and request.access_key_id == "ak_1"


def test_model_json() -> None:
    model = router_pb2.Model(
        id=MODEL,
        provider="openai",
        provider_model_id="gpt-4o-mini",
        name="GPT-4o mini",
        context_window=128000,
        input_price_per_mtok=0.15,
        output_price_per_mtok=0.6,
        tasks=[common_pb2.TASK_TYPE_CHAT, common_pb2.TASK_TYPE_CODE],
        budget_tier=common_pb2.BUDGET_TIER_LOW,
        modalities=["text"],
    )
    out = wire.models_json(router_pb2.ListModelsResponse(models=[model]))
    assert out["count"] == 1
    m = out["models"][0]
    assert m["id"] == MODEL and m["tasks"] == ["chat", "code"] and m["budget_tier"] == "LOW"
    assert m["pricing"] == {"input_per_mtok_usd": 0.15, "output_per_mtok_usd": 0.6}
    assert m["embedding_dimensions"] is None and m["regions"] == []


def test_completion_json_has_content_usage_cost_and_route() -> None:
    reply = router_pb2.CompleteResponse(
        id="chatcmpl-1",
        content="Hello",
        finish_reason="length",
        usage=common_pb2.Usage(prompt_tokens=3, completion_tokens=2),
        cost_usd=0.000012,
        cost_micros=12,
        route=route(),
    )
    out = wire.completion_json(reply)
    assert out["id"] == "chatcmpl-1" and out["content"] == "Hello" and out["finish_reason"] == "length"
    assert out["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "estimated": False}
    assert out["cost_usd"] == 0.000012 and out["cost_micros"] == 12 and out["model"] == MODEL
    r = out["route"]
    assert r["provider"] == "openai" and r["key_source"] == "tenant" and r["reason"] == "auto: cheapest"
    assert r["attempts"][0]["outcome"] == "success"
    json.dumps(out)


async def _stream(
    *chunks: router_pb2.CompleteStreamChunk, fail: KeyrelayError | None = None
) -> AsyncIterator[Any]:
    for chunk in chunks:
        yield chunk
    if fail is not None:
        raise fail


def _events(text: list[str]) -> list[Any]:
    return [e[6:-2] if e == "data: [DONE]\n\n" else json.loads(e[6:]) for e in text]


async def _collect(chunks: AsyncIterator[Any]) -> list[Any]:
    return _events([e async for e in wire.chat_events(chunks, request_id="req-1")])


async def test_chat_events_are_deltas_then_a_final_event_then_done() -> None:
    final = router_pb2.CompleteStreamFinal(
        finish_reason="stop",
        usage=common_pb2.Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5),
        cost_usd=0.5,
        cost_micros=500000,
        route=route(),
    )
    events = await _collect(
        _stream(
            router_pb2.CompleteStreamChunk(id="c1", model=MODEL, delta="Hel"),
            router_pb2.CompleteStreamChunk(id="c1", model=MODEL, delta="lo"),
            router_pb2.CompleteStreamChunk(id="c1", model=MODEL, final=final),
        )
    )
    assert events[:2] == [{"delta": "Hel"}, {"delta": "lo"}] and events[-1] == "[DONE]"
    last = events[2]
    assert last["done"] is True and last["id"] == "c1" and last["model"] == MODEL
    assert last["usage"]["total_tokens"] == 5 and last["cost_micros"] == 500000
    assert last["route"]["key_source"] == "tenant"


async def test_a_failing_or_truncated_stream_ends_with_an_error_event() -> None:
    failed = await _collect(
        _stream(router_pb2.CompleteStreamChunk(id="c", delta="a"), fail=RateLimited("rate_limited"))
    )
    assert failed[0] == {"delta": "a"} and failed[-1] == "[DONE]"
    assert failed[1]["error"]["type"] == "rate_limited" and failed[1]["error"]["request_id"] == "req-1"
    cut = await _collect(_stream(router_pb2.CompleteStreamChunk(id="c", delta="a")))
    assert cut[1]["error"]["type"] == "upstream_error" and cut[-1] == "[DONE]"


def test_usage_json_maps_records_and_the_cursor() -> None:
    record = router_pb2.UsageRecord(
        id="chatcmpl-1",
        tenant_id="acme",
        request_id="r1",
        task_type=common_pb2.TASK_TYPE_CODE,
        provider="openai",
        model=MODEL,
        key_source=common_pb2.KEY_SOURCE_PLATFORM,
        usage=common_pb2.Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
        cost_usd=0.000002,
        cost_micros=2,
        success=True,
    )
    record.created_at.FromDatetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    out = wire.usage_json(
        "acme",
        router_pb2.GetUsageResponse(records=[record], page=common_pb2.PageResponse(next_page_token="50")),
    )
    assert out["count"] == 1 and out["next_cursor"] == "50" and out["tenant_id"] == "acme"
    r = out["records"][0]
    assert r["created_at"] == "2026-01-02T03:04:05+00:00" and r["task_type"] == "code"
    assert r["key_source"] == "platform" and r["cost_micros"] == 2 and r["error_type"] is None
    assert r["access_key_id"] is None
    assert wire.usage_json("acme", router_pb2.GetUsageResponse())["next_cursor"] is None


def _analytics() -> router_pb2.GetAnalyticsResponse:
    bucket = router_pb2.AnalyticsBucket(
        key=MODEL,
        requests=2,
        prompt_tokens=4,
        completion_tokens=6,
        total_tokens=10,
        cost_usd=1.5,
        cost_micros=1500000,
    )
    totals = router_pb2.AnalyticsBucket(requests=2, total_tokens=10, cost_usd=1.5, cost_micros=1500000)
    advice = router_pb2.CostRecommendation(
        message="cheaper", current_model=MODEL, suggested_model="x/y", estimated_monthly_savings_usd=3.0
    )
    return router_pb2.GetAnalyticsResponse(buckets=[bucket], totals=totals, recommendations=[advice])


def test_analytics_json() -> None:
    out = wire.analytics_json("acme", "model", _analytics())
    assert out["group_by"] == "model" and out["buckets"][0]["key"] == MODEL
    assert out["buckets"][0]["cost_micros"] == 1500000 and "key" not in out["totals"]
    assert out["totals"]["requests"] == 2 and out["recommendations"][0]["suggested_model"] == "x/y"


def test_usage_stats_json_has_totals_and_budget() -> None:
    budget = router_pb2.GetBudgetResponse(
        has_limit=True,
        limit_usd=10,
        limit_micros=10_000_000,
        spent_usd=2.5,
        spent_micros=2_500_000,
        reserved_micros=500_000,
        reserved_usd=0.5,
    )
    budget.period_start.FromDatetime(datetime(2026, 1, 1, tzinfo=UTC))
    out = wire.usage_stats_json("acme", _analytics(), budget)
    assert out["totals"]["cost_usd"] == 1.5 and out["by_model"][0]["key"] == MODEL
    b = out["budget"]
    assert b["limit_usd"] == 10 and b["remaining_micros"] == 7_000_000 and b["remaining_usd"] == 7.0
    assert b["used_percent"] == 25.0 and b["period_start"] == "2026-01-01T00:00:00+00:00"
    assert b["period_end"] is None
    unlimited = wire.budget_json(router_pb2.GetBudgetResponse(spent_usd=1, spent_micros=1_000_000))
    assert (
        unlimited["has_limit"] is False
        and unlimited["limit_usd"] is None
        and unlimited["remaining_usd"] is None
    )


def test_benchmark_json() -> None:
    reply = router_pb2.BenchmarkResponse(
        results=[
            router_pb2.BenchmarkResult(
                model=MODEL,
                latency_ms=10.0,
                cost_usd=0.1,
                cost_micros=100000,
                output="hi",
                key_source=common_pb2.KEY_SOURCE_TENANT,
            ),
            router_pb2.BenchmarkResult(model="x/y", error="no usable key"),
        ],
        recommended_model=MODEL,
        recommendation="only one answered",
    )
    out = wire.benchmark_json(reply)
    ok, bad = out["results"]
    assert ok["success"] and ok["key_source"] == "tenant" and ok["output"] == "hi" and ok["error"] is None
    assert not bad["success"] and bad["error"] == "no usable key" and bad["key_source"] is None
    assert out["recommended_model"] == MODEL
    assert wire.benchmark_json(router_pb2.BenchmarkResponse())["recommended_model"] is None
