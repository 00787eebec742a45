"""The models & usage family (`/api/brain/openrouter/...`) and `/api/brain/ai/chat` on the HTTP
wire, translated to and from llm-router-svc's messages. No I/O.

JSON is snake_case; money is USD floats (`..._usd`) plus exact integer micros (`..._micros`).
Chat streams are server-sent events: `{"delta": ...}` events, then one final event with the
usage, cost and route, then `[DONE]`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal

from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, Field, field_validator, model_validator

from keyrelay.common.errors import InvalidArgument, KeyrelayError, UpstreamError
from keyrelay.portal.domain.auth import Caller
from keyrelay.portal.domain.keys_wire import timestamp
from keyrelay.portal.domain.openai_wire import (
    DONE,
    MAX_OUTPUT_TOKENS,
    MessageIn,
    chat_message,
    error_event,
    route_json,
    sse,
)
from keyrelay.portal.domain.openai_wire import usage_json as token_usage_json
from keyrelay.v1 import common_pb2, router_pb2

TASKS: dict[str, int] = {
    "chat": common_pb2.TASK_TYPE_CHAT,
    "reasoning": common_pb2.TASK_TYPE_REASONING,
    "code": common_pb2.TASK_TYPE_CODE,
    "rag": common_pb2.TASK_TYPE_RAG,
    "vision": common_pb2.TASK_TYPE_VISION,
    "embedding": common_pb2.TASK_TYPE_EMBEDDING,
    "summarization": common_pb2.TASK_TYPE_SUMMARIZATION,
    "translation": common_pb2.TASK_TYPE_TRANSLATION,
}
_TASK_NAMES = {v: k for k, v in TASKS.items()}
TIERS: dict[str, int] = {
    "FREE": common_pb2.BUDGET_TIER_FREE,
    "LOW": common_pb2.BUDGET_TIER_LOW,
    "MEDIUM": common_pb2.BUDGET_TIER_MEDIUM,
    "HIGH": common_pb2.BUDGET_TIER_HIGH,
    "UNLIMITED": common_pb2.BUDGET_TIER_UNLIMITED,
}
_TIER_NAMES = {v: k for k, v in TIERS.items()}
_KEY_SOURCES = {
    common_pb2.KEY_SOURCE_TENANT: "tenant",
    common_pb2.KEY_SOURCE_PLATFORM: "platform",
    common_pb2.KEY_SOURCE_ENVIRONMENT: "environment",
}
GROUP_BY: dict[str, int] = {
    "model": router_pb2.ANALYTICS_GROUP_BY_MODEL,
    "provider": router_pb2.ANALYTICS_GROUP_BY_PROVIDER,
    "day": router_pb2.ANALYTICS_GROUP_BY_DAY,
}
GroupBy = Literal["model", "provider", "day"]
MAX_PAGE = 1000


def task_enum(name: str | None) -> int:
    """A task name (`chat`, `code`, ...; case-insensitive) as the proto enum; None = unspecified."""
    if name is None or not name.strip():
        return common_pb2.TASK_TYPE_UNSPECIFIED
    value = TASKS.get(name.strip().lower())
    if value is None:
        raise InvalidArgument(f"task_type must be one of {', '.join(TASKS)}")
    return value


def tier_enum(name: str | None) -> int:
    if name is None or not name.strip():
        return common_pb2.BUDGET_TIER_UNSPECIFIED
    value = TIERS.get(name.strip().upper())
    if value is None:
        raise InvalidArgument(f"tier must be one of {', '.join(TIERS)}")
    return value


# -- request bodies ------------------------------------------------------------------------


def _known_task(value: str | None) -> str | None:
    if value is not None and value.strip() and value.strip().lower() not in TASKS:
        raise ValueError(f"task_type must be one of {', '.join(TASKS)}")
    return value


class _Inference(BaseModel):
    task_type: str | None = Field(default=None, max_length=32)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    temperature: float | None = Field(default=None, ge=0, le=2)
    stream: bool = False

    @field_validator("task_type")
    @classmethod
    def _task(cls, value: str | None) -> str | None:
        return _known_task(value)


class CompletionBody(_Inference):
    """`POST /api/brain/openrouter/completions`: `messages` or `prompt`."""

    messages: list[MessageIn] | None = Field(default=None, min_length=1)
    prompt: str | None = Field(default=None, min_length=1)
    model: str = Field(default="auto", min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_input(self) -> CompletionBody:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("send either messages or prompt")
        return self


class ChatBody(_Inference):
    """`POST /api/brain/ai/chat`: `message` or `messages`, `model_preference` (`auto` or an id)."""

    message: str | None = Field(default=None, min_length=1)
    messages: list[MessageIn] | None = Field(default=None, min_length=1)
    model_preference: str = Field(default="auto", min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_input(self) -> ChatBody:
        if (self.messages is None) == (self.message is None):
            raise ValueError("send either message or messages")
        return self


class BenchmarkBody(BaseModel):
    """`POST /api/brain/openrouter/benchmark`: one prompt against several models."""

    prompt: str = Field(min_length=1, max_length=100_000)
    models: list[str] = Field(default_factory=list, max_length=10)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    task_type: str | None = Field(default=None, max_length=32)

    @field_validator("task_type")
    @classmethod
    def _task(cls, value: str | None) -> str | None:
        return _known_task(value)


# -- requests to llm-router-svc -----------------------------------------------------------------


def complete_request(body: CompletionBody | ChatBody, caller: Caller) -> router_pb2.CompleteRequest:
    """The router request for either body; the caller's tenant and access key travel with it."""
    if isinstance(body, CompletionBody):
        model, text = body.model, body.prompt
    else:
        model, text = body.model_preference, body.message
    if text is not None:
        messages = [router_pb2.ChatMessage(role="user", content=text)]
    else:
        messages = [chat_message(m, i) for i, m in enumerate(body.messages or [])]
    request = router_pb2.CompleteRequest(
        tenant_id=caller.tenant(),
        access_key_id=caller.key_id or "",
        access_key_rate_limit=caller.rate_limit,
        messages=messages,
        model=model,
        task_type=task_enum(body.task_type),  # type: ignore[arg-type]
    )
    if body.max_tokens is not None:
        request.max_tokens = body.max_tokens
    if body.temperature is not None:
        request.temperature = body.temperature
    return request


def list_models_request(
    task: str | None, tier: str | None, provider: str | None
) -> router_pb2.ListModelsRequest:
    return router_pb2.ListModelsRequest(
        task=task_enum(task),  # type: ignore[arg-type]
        tier=tier_enum(tier),  # type: ignore[arg-type]
        provider=(provider or "").strip().lower(),
    )


def _ts(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    out = Timestamp()
    out.FromDatetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return out


def _check_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None:
        a = since if since.tzinfo else since.replace(tzinfo=UTC)
        b = until if until.tzinfo else until.replace(tzinfo=UTC)
        if a >= b:
            raise InvalidArgument("since must be before until")


def usage_request(
    tenant_id: str, since: datetime | None, until: datetime | None, limit: int, cursor: str | None
) -> router_pb2.GetUsageRequest:
    _check_range(since, until)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidArgument(f"limit must be between 1 and {MAX_PAGE}")
    return router_pb2.GetUsageRequest(
        tenant_id=tenant_id,
        start_time=_ts(since),
        end_time=_ts(until),
        page=common_pb2.PageRequest(page_size=limit, page_token=cursor or ""),
    )


def analytics_request(
    tenant_id: str, group_by: str, since: datetime | None, until: datetime | None
) -> router_pb2.GetAnalyticsRequest:
    _check_range(since, until)
    if group_by not in GROUP_BY:
        raise InvalidArgument(f"group_by must be one of {', '.join(GROUP_BY)}")
    return router_pb2.GetAnalyticsRequest(
        tenant_id=tenant_id,
        start_time=_ts(since),
        end_time=_ts(until),
        group_by=GROUP_BY[group_by],  # type: ignore[arg-type]
    )


def benchmark_request(body: BenchmarkBody, caller: Caller) -> router_pb2.BenchmarkRequest:
    request = router_pb2.BenchmarkRequest(
        tenant_id=caller.tenant(),
        access_key_id=caller.key_id or "",
        access_key_rate_limit=caller.rate_limit,
        prompt=body.prompt,
        models=body.models,
        task_type=task_enum(body.task_type),  # type: ignore[arg-type]
    )
    if body.max_tokens is not None:
        request.max_tokens = body.max_tokens
    return request


# -- answers -------------------------------------------------------------------------------


def _usage(usage: common_pb2.Usage) -> dict[str, Any]:
    return {**token_usage_json(usage), "estimated": usage.estimated}


def model_json(m: router_pb2.Model) -> dict[str, Any]:
    return {
        "id": m.id,
        "provider": m.provider,
        "provider_model_id": m.provider_model_id,
        "name": m.name,
        "context_window": m.context_window,
        "pricing": {
            "input_per_mtok_usd": m.input_price_per_mtok,
            "output_per_mtok_usd": m.output_price_per_mtok,
        },
        "tasks": [_TASK_NAMES[t] for t in m.tasks if t in _TASK_NAMES],
        "budget_tier": _TIER_NAMES.get(m.budget_tier),
        "regions": list(m.regions),
        "modalities": list(m.modalities),
        "embedding_dimensions": m.embedding_dimensions or None,
    }


def models_json(reply: router_pb2.ListModelsResponse) -> dict[str, Any]:
    models = [model_json(m) for m in reply.models]
    return {"models": models, "count": len(models)}


def completion_json(reply: router_pb2.CompleteResponse) -> dict[str, Any]:
    return {
        "id": reply.id,
        "content": reply.content,
        "finish_reason": reply.finish_reason or "stop",
        "model": reply.route.model,
        "created": reply.created.seconds if reply.HasField("created") else int(time.time()),
        "usage": _usage(reply.usage),
        "cost_usd": reply.cost_usd,
        "cost_micros": reply.cost_micros,
        "route": route_json(reply.route),
    }


async def chat_events(
    chunks: AsyncIterator[router_pb2.CompleteStreamChunk], *, request_id: str | None
) -> AsyncIterator[str]:
    """SSE for a router stream: `{"delta": ...}` events, a final event (`done: true`, usage,
    cost, route), then `[DONE]`. A `KeyrelayError` from `chunks` becomes an `error` event
    followed by `[DONE]`."""
    stream_id = ""
    try:
        async for chunk in chunks:
            stream_id = chunk.id or stream_id
            if chunk.WhichOneof("event") == "final":
                final = chunk.final
                yield sse(
                    {
                        "done": True,
                        "id": stream_id,
                        "model": final.route.model or chunk.model,
                        "finish_reason": final.finish_reason or "stop",
                        "usage": _usage(final.usage),
                        "cost_usd": final.cost_usd,
                        "cost_micros": final.cost_micros,
                        "route": route_json(final.route),
                    }
                )
                yield DONE
                return
            if chunk.delta:
                yield sse({"delta": chunk.delta})
        raise UpstreamError("the model's stream ended before its final chunk")
    except KeyrelayError as err:
        yield error_event(err, request_id)
        yield DONE


def usage_record_json(r: router_pb2.UsageRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "request_id": r.request_id,
        "access_key_id": r.access_key_id or None,
        "created_at": timestamp(r, "created_at"),
        "task_type": _TASK_NAMES.get(r.task_type, "chat"),
        "provider": r.provider,
        "model": r.model,
        "key_source": _KEY_SOURCES.get(r.key_source, "unspecified"),
        "usage": _usage(r.usage),
        "cost_usd": r.cost_usd,
        "cost_micros": r.cost_micros,
        "latency_ms": round(r.latency_ms, 3),
        "stream": r.stream,
        "success": r.success,
        "error_type": r.error_type or None,
    }


def usage_json(tenant_id: str, reply: router_pb2.GetUsageResponse) -> dict[str, Any]:
    records = [usage_record_json(r) for r in reply.records]
    return {
        "tenant_id": tenant_id,
        "records": records,
        "count": len(records),
        "next_cursor": reply.page.next_page_token or None,
    }


def bucket_json(b: router_pb2.AnalyticsBucket, keyed: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"key": b.key} if keyed else {}
    out.update(
        requests=b.requests,
        errors=b.errors,
        prompt_tokens=b.prompt_tokens,
        completion_tokens=b.completion_tokens,
        total_tokens=b.total_tokens,
        cost_usd=b.cost_usd,
        cost_micros=b.cost_micros,
    )
    if keyed:
        out["avg_latency_ms"] = round(b.avg_latency_ms, 3)
    return out


def analytics_json(tenant_id: str, group_by: str, reply: router_pb2.GetAnalyticsResponse) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "group_by": group_by,
        "buckets": [bucket_json(b) for b in reply.buckets],
        "totals": bucket_json(reply.totals, keyed=False),
        "recommendations": [
            {
                "message": r.message,
                "current_model": r.current_model,
                "suggested_model": r.suggested_model,
                "estimated_monthly_savings_usd": r.estimated_monthly_savings_usd,
            }
            for r in reply.recommendations
        ],
    }


def budget_json(b: router_pb2.GetBudgetResponse) -> dict[str, Any]:
    remaining = max(b.limit_micros - b.spent_micros - b.reserved_micros, 0) if b.has_limit else None
    return {
        "period_start": timestamp(b, "period_start"),
        "period_end": timestamp(b, "period_end"),
        "has_limit": b.has_limit,
        "limit_usd": b.limit_usd if b.has_limit else None,
        "limit_micros": b.limit_micros if b.has_limit else None,
        "spent_usd": b.spent_usd,
        "spent_micros": b.spent_micros,
        "reserved_usd": b.reserved_usd,
        "reserved_micros": b.reserved_micros,
        "remaining_usd": remaining / 1_000_000 if remaining is not None else None,
        "remaining_micros": remaining,
        "used_percent": round(100 * b.spent_micros / b.limit_micros, 2)
        if b.has_limit and b.limit_micros
        else None,
    }


def usage_stats_json(
    tenant_id: str, analytics: router_pb2.GetAnalyticsResponse, budget: router_pb2.GetBudgetResponse
) -> dict[str, Any]:
    """The portal's usage page: totals over the period, per-model buckets, budget, advice."""
    body = analytics_json(tenant_id, "model", analytics)
    return {
        "tenant_id": tenant_id,
        "totals": body["totals"],
        "by_model": body["buckets"],
        "budget": budget_json(budget),
        "recommendations": body["recommendations"],
    }


def benchmark_json(reply: router_pb2.BenchmarkResponse) -> dict[str, Any]:
    return {
        "results": [
            {
                "model": r.model,
                "success": not r.error,
                "latency_ms": round(r.latency_ms, 3),
                "usage": _usage(r.usage),
                "cost_usd": r.cost_usd,
                "cost_micros": r.cost_micros,
                "output": r.output,
                "error": r.error or None,
                "key_source": _KEY_SOURCES.get(r.key_source) if not r.error else None,
            }
            for r in reply.results
        ],
        "recommended_model": reply.recommended_model or None,
        "recommendation": reply.recommendation or None,
    }
