"""The Router gRPC servicer: maps messages to the Gateway and back, nothing more."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from keyrelay.common.context import check_tenant
from keyrelay.common.errors import InvalidArgument
from keyrelay.router.domain.advice import recommend, recommendations
from keyrelay.router.domain.catalog import BudgetTier, Model
from keyrelay.router.domain.messages import ChatMessage, ContentPart, Credential
from keyrelay.router.domain.settings import TenantSettings
from keyrelay.router.gateway import CallOutcome, CallRequest, Gateway, Route
from keyrelay.v1 import common_pb2, router_pb2, router_pb2_grpc

SERVICE_NAME = router_pb2.DESCRIPTOR.services_by_name["Router"].full_name


def method(name: str) -> str:
    return f"/{SERVICE_NAME}/{name}"


# Which service identities may call which RPC (see keyrelay.common.rpc).
ALLOW = {
    method("CheckKey"): ["keyvault"],
    method("ListModels"): ["portal", "rag", "launcher"],
    method("GetModel"): ["portal", "rag", "launcher"],
    method("Complete"): ["portal", "rag"],
    method("CompleteStream"): ["portal", "rag"],
    method("Embed"): ["portal", "rag"],
    "*": ["portal"],
}

TASKS = {
    common_pb2.TASK_TYPE_UNSPECIFIED: "chat",
    common_pb2.TASK_TYPE_CHAT: "chat",
    common_pb2.TASK_TYPE_REASONING: "reasoning",
    common_pb2.TASK_TYPE_CODE: "code",
    common_pb2.TASK_TYPE_RAG: "rag",
    common_pb2.TASK_TYPE_VISION: "vision",
    common_pb2.TASK_TYPE_EMBEDDING: "embedding",
    common_pb2.TASK_TYPE_SUMMARIZATION: "summarization",
    common_pb2.TASK_TYPE_TRANSLATION: "translation",
}
TASK_ENUM = {name: value for value, name in TASKS.items() if value != common_pb2.TASK_TYPE_UNSPECIFIED}
TIER_ENUM = {tier: getattr(common_pb2, f"BUDGET_TIER_{tier.name}") for tier in BudgetTier}  # proto = tier + 1
ENUM_TIER = {value: tier for tier, value in TIER_ENUM.items()}
SOURCES = {
    "tenant": common_pb2.KEY_SOURCE_TENANT,
    "platform": common_pb2.KEY_SOURCE_PLATFORM,
    "environment": common_pb2.KEY_SOURCE_ENVIRONMENT,
}
OUTCOMES = {
    "success": common_pb2.ATTEMPT_OUTCOME_SUCCESS,
    "retryable": common_pb2.ATTEMPT_OUTCOME_RETRYABLE_ERROR,
    "fatal": common_pb2.ATTEMPT_OUTCOME_FATAL_ERROR,
    "skipped": common_pb2.ATTEMPT_OUTCOME_SKIPPED,
}
LIVE = {
    "valid": common_pb2.LIVE_CHECK_RESULT_VALID,
    "invalid": common_pb2.LIVE_CHECK_RESULT_INVALID,
    "unverified": common_pb2.LIVE_CHECK_RESULT_UNVERIFIED,
}


def now_ts() -> Timestamp:
    """The current time, without the datetime round trip of `ts(datetime.now(UTC))`."""
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    return Timestamp(seconds=seconds, nanos=nanos)


def ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def messages_from(pb: Any) -> tuple[ChatMessage, ...]:
    out = []
    for m in pb:
        if m.parts:
            parts = tuple(
                ContentPart("image_url", image_url=p.image_url.url)
                if p.HasField("image_url")
                else ContentPart("text", text=p.text)
                for p in m.parts
            )
            out.append(ChatMessage(m.role, parts, m.name))
        else:
            out.append(ChatMessage(m.role, m.content, m.name))
    return tuple(out)


def call_from(request: Any, task: str | None = None) -> CallRequest:
    return CallRequest(
        tenant_id=check_tenant(request.tenant_id),
        messages=messages_from(request.messages) if hasattr(request, "messages") else (),
        model=request.model or "auto",
        task=task or TASKS.get(request.task_type, "chat"),
        access_key_id=request.access_key_id,
        access_key_rate_limit=request.access_key_rate_limit,
        max_tokens=request.max_tokens if request.HasField("max_tokens") else None,
        temperature=request.temperature if request.HasField("temperature") else None,
        top_p=request.top_p if request.HasField("top_p") else None,
        stop=tuple(request.stop),
        allow_failover=request.allow_failover if request.HasField("allow_failover") else None,
    )


def route_pb(route: Route) -> common_pb2.Route:
    return common_pb2.Route(
        provider=route.model.provider if route.model else "",
        model=route.model.id if route.model else "",
        key_source=SOURCES.get(route.key.source if route.key else "", common_pb2.KEY_SOURCE_UNSPECIFIED),
        reason=route.reason,
        attempts=[
            common_pb2.Attempt(
                provider=a.provider,
                model=a.model,
                outcome=OUTCOMES[a.outcome],
                error=a.error,
                upstream_status=a.status,
                latency_ms=a.latency_ms,
            )
            for a in route.attempts
        ],
    )


def usage_pb(outcome: CallOutcome) -> common_pb2.Usage:
    u = outcome.usage
    return common_pb2.Usage(
        prompt_tokens=u.prompt_tokens,
        completion_tokens=u.completion_tokens,
        total_tokens=u.total_tokens,
        estimated=u.estimated,
    )


def model_pb(m: Model) -> router_pb2.Model:
    return router_pb2.Model(
        id=m.id,
        provider=m.provider,
        provider_model_id=m.provider_model_id,
        name=m.name,
        context_window=m.context_window,
        input_price_per_mtok=m.input_price_per_mtok,
        output_price_per_mtok=m.output_price_per_mtok,
        tasks=[TASK_ENUM[t] for t in m.tasks if t in TASK_ENUM],
        budget_tier=TIER_ENUM[m.budget_tier],
        regions=list(m.regions),
        modalities=list(m.modalities),
        embedding_dimensions=m.dimensions or 0,
    )


def settings_pb(s: TenantSettings) -> router_pb2.TenantSettings:
    pb = router_pb2.TenantSettings(
        tenant_id=s.tenant_id,
        budget_tier=TIER_ENUM[s.budget_tier],
        preferred_providers=list(s.preferred_providers),
        fallback_providers=list(s.fallback_providers),
        on_budget_exceeded=router_pb2.ON_BUDGET_EXCEEDED_DOWNGRADE
        if s.on_budget_exceeded == "downgrade"
        else router_pb2.ON_BUDGET_EXCEEDED_REJECT,
        allow_platform_fallback=s.allow_platform_fallback,
        region=s.region,
        updated_at=ts(s.updated_at),
        tokens_per_minute=s.tokens_per_minute,
    )
    if s.max_monthly_cost_micros is not None:
        pb.max_monthly_cost_usd = s.max_monthly_cost_micros / 1_000_000
    return pb


class RouterService(router_pb2_grpc.RouterServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway

    async def Complete(
        self, request: router_pb2.CompleteRequest, context: Any
    ) -> router_pb2.CompleteResponse:
        outcome = await self._gw.complete(call_from(request))
        return router_pb2.CompleteResponse(
            id=outcome.id,
            content=outcome.content,
            finish_reason=outcome.finish_reason,
            usage=usage_pb(outcome),
            cost_usd=outcome.cost_micros / 1_000_000,
            cost_micros=outcome.cost_micros,
            route=route_pb(outcome.route),
            created=now_ts(),
        )

    async def CompleteStream(
        self, request: router_pb2.CompleteRequest, context: Any
    ) -> AsyncIterator[router_pb2.CompleteStreamChunk]:
        call_id, model = "", ""
        async for event in self._gw.complete_stream(call_from(request)):
            if event.final is None:
                yield router_pb2.CompleteStreamChunk(delta=event.delta)
                continue
            final = event.final
            call_id, model = final.id, final.route.model.id if final.route.model else ""
            yield router_pb2.CompleteStreamChunk(
                id=call_id,
                model=model,
                final=router_pb2.CompleteStreamFinal(
                    finish_reason=final.finish_reason,
                    usage=usage_pb(final),
                    cost_usd=final.cost_micros / 1_000_000,
                    cost_micros=final.cost_micros,
                    route=route_pb(final.route),
                ),
            )

    async def Embed(self, request: router_pb2.EmbedRequest, context: Any) -> router_pb2.EmbedResponse:
        call = CallRequest(
            tenant_id=check_tenant(request.tenant_id),
            messages=(),
            model=request.model or "auto",
            task="embedding",
            access_key_id=request.access_key_id,
            access_key_rate_limit=request.access_key_rate_limit,
        )
        dims = request.dimensions if request.HasField("dimensions") else None
        vectors, usage, cost, route = await self._gw.embed(call, tuple(request.inputs), dims)
        return router_pb2.EmbedResponse(
            embeddings=[router_pb2.Embedding(index=i, values=list(v)) for i, v in enumerate(vectors)],
            model=route.model.id if route.model else "",
            usage=common_pb2.Usage(
                prompt_tokens=usage.prompt_tokens, total_tokens=usage.total_tokens, estimated=usage.estimated
            ),
            cost_usd=cost / 1_000_000,
            cost_micros=cost,
            route=route_pb(route),
        )

    async def ListModels(
        self, request: router_pb2.ListModelsRequest, context: Any
    ) -> router_pb2.ListModelsResponse:
        task = TASKS.get(request.task) if request.task else None
        tier = ENUM_TIER.get(request.tier) if request.tier else None
        models = self._gw.catalog.list(task=task, tier=tier, provider=request.provider or None)
        return router_pb2.ListModelsResponse(models=[model_pb(m) for m in models])

    async def GetModel(
        self, request: router_pb2.GetModelRequest, context: Any
    ) -> router_pb2.GetModelResponse:
        return router_pb2.GetModelResponse(model=model_pb(self._gw.catalog.get(request.model_id)))

    async def GetTenantSettings(self, request: Any, context: Any) -> router_pb2.GetTenantSettingsResponse:
        return router_pb2.GetTenantSettingsResponse(
            settings=settings_pb(await self._gw.settings(check_tenant(request.tenant_id)))
        )

    async def PutTenantSettings(self, request: Any, context: Any) -> router_pb2.PutTenantSettingsResponse:
        pb = request.settings
        if pb.budget_tier and pb.budget_tier not in ENUM_TIER:
            raise InvalidArgument("budget_tier is not a known tier")
        if pb.HasField("max_monthly_cost_usd") and not 0 <= pb.max_monthly_cost_usd <= 1_000_000_000:
            raise InvalidArgument("max_monthly_cost_usd must be between 0 and 1,000,000,000")
        settings = TenantSettings(
            tenant_id=check_tenant(pb.tenant_id),
            budget_tier=ENUM_TIER.get(pb.budget_tier, BudgetTier.MEDIUM),
            preferred_providers=tuple(pb.preferred_providers),
            fallback_providers=tuple(pb.fallback_providers),
            max_monthly_cost_micros=round(pb.max_monthly_cost_usd * 1_000_000)
            if pb.HasField("max_monthly_cost_usd")
            else None,
            on_budget_exceeded="downgrade"
            if pb.on_budget_exceeded == router_pb2.ON_BUDGET_EXCEEDED_DOWNGRADE
            else "reject",
            allow_platform_fallback=pb.allow_platform_fallback,
            region=pb.region,
            tokens_per_minute=max(pb.tokens_per_minute, 0),
        )
        unknown = [
            p
            for p in (*settings.preferred_providers, *settings.fallback_providers)
            if p not in self._gw.catalog.providers()
        ]
        if unknown:
            raise InvalidArgument(f"unknown providers {unknown}; ListModels shows the known ones")
        return router_pb2.PutTenantSettingsResponse(
            settings=settings_pb(await self._gw.put_settings(settings))
        )

    async def GetBudget(
        self, request: router_pb2.GetBudgetRequest, context: Any
    ) -> router_pb2.GetBudgetResponse:
        tenant = check_tenant(request.tenant_id)
        now = datetime.now(UTC)
        settings = await self._gw.settings(tenant)
        state = await self._gw.store.budget(tenant, now)
        start = datetime(state.month.year, state.month.month, 1, tzinfo=UTC)
        end = datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)
        limit = settings.max_monthly_cost_micros
        return router_pb2.GetBudgetResponse(
            period_start=ts(start),
            period_end=ts(end),
            has_limit=limit is not None,
            limit_usd=(limit or 0) / 1_000_000,
            limit_micros=limit or 0,
            spent_usd=state.spent_micros / 1_000_000,
            spent_micros=state.spent_micros,
            reserved_usd=state.reserved_micros / 1_000_000,
            reserved_micros=state.reserved_micros,
        )

    async def GetUsage(
        self, request: router_pb2.GetUsageRequest, context: Any
    ) -> router_pb2.GetUsageResponse:
        tenant = check_tenant(request.tenant_id)
        start, end = _range(request)
        size = min(request.page.page_size or 50, 1000)
        try:
            offset = int(request.page.page_token or 0)
        except ValueError as exc:
            raise InvalidArgument("page_token is not one this service issued") from exc
        rows = await self._gw.store.usage(tenant, start, end, offset, size + 1)
        records = [
            router_pb2.UsageRecord(
                id=r.id,
                tenant_id=r.tenant_id,
                access_key_id=r.access_key_id,
                request_id=r.request_id,
                created_at=ts(r.created_at),
                task_type=TASK_ENUM.get(r.task_type, common_pb2.TASK_TYPE_CHAT),
                provider=r.provider,
                model=r.model,
                key_source=SOURCES.get(r.key_source, 0),
                usage=common_pb2.Usage(
                    prompt_tokens=r.prompt_tokens,
                    completion_tokens=r.completion_tokens,
                    total_tokens=r.prompt_tokens + r.completion_tokens,
                    estimated=r.estimated,
                ),
                cost_usd=r.cost_micros / 1_000_000,
                cost_micros=r.cost_micros,
                latency_ms=r.latency_ms,
                stream=r.stream,
                success=r.success,
                error_type=r.error_type,
            )
            for r in rows[:size]
        ]
        token = str(offset + size) if len(rows) > size else ""
        return router_pb2.GetUsageResponse(
            records=records, page=common_pb2.PageResponse(next_page_token=token)
        )

    async def GetAnalytics(
        self, request: router_pb2.GetAnalyticsRequest, context: Any
    ) -> router_pb2.GetAnalyticsResponse:
        tenant = check_tenant(request.tenant_id)
        start, end = _range(request)
        group = {
            router_pb2.ANALYTICS_GROUP_BY_MODEL: "model",
            router_pb2.ANALYTICS_GROUP_BY_PROVIDER: "provider",
        }.get(request.group_by, "day")
        rows = await self._gw.store.analytics(tenant, start, end, group)
        buckets = [_bucket(r.key, r) for r in rows]
        totals = router_pb2.AnalyticsBucket(
            requests=sum(b.requests for b in buckets),
            errors=sum(b.errors for b in buckets),
            prompt_tokens=sum(b.prompt_tokens for b in buckets),
            completion_tokens=sum(b.completion_tokens for b in buckets),
            total_tokens=sum(b.total_tokens for b in buckets),
            cost_micros=sum(b.cost_micros for b in buckets),
        )
        totals.cost_usd = totals.cost_micros / 1_000_000
        by_model = rows if group == "model" else await self._gw.store.analytics(tenant, start, end, "model")
        advice = recommendations(self._gw.catalog, by_model, days=max((end - start).days, 1))
        return router_pb2.GetAnalyticsResponse(
            buckets=buckets,
            totals=totals,
            recommendations=[router_pb2.CostRecommendation(**a) for a in advice],
        )

    async def Benchmark(
        self, request: router_pb2.BenchmarkRequest, context: Any
    ) -> router_pb2.BenchmarkResponse:
        if not request.prompt:
            raise InvalidArgument("prompt is empty: send the prompt to run on every model")
        call = CallRequest(
            tenant_id=check_tenant(request.tenant_id),
            messages=(ChatMessage("user", request.prompt),),
            task=TASKS.get(request.task_type, "chat"),
            access_key_id=request.access_key_id,
            access_key_rate_limit=request.access_key_rate_limit,
            max_tokens=request.max_tokens if request.HasField("max_tokens") else None,
        )
        results = await self._gw.benchmark(call, tuple(request.models))
        pbs = []
        for model_id, outcome, error, latency in results:
            pb = router_pb2.BenchmarkResult(model=model_id, latency_ms=latency, error=error)
            if outcome is not None:
                pb.usage.CopyFrom(usage_pb(outcome))
                pb.cost_usd, pb.cost_micros, pb.output = (
                    outcome.cost_micros / 1_000_000,
                    outcome.cost_micros,
                    outcome.content,
                )
                pb.key_source = SOURCES.get(outcome.route.key.source if outcome.route.key else "", 0)
            pbs.append(pb)
        best, why = recommend([(r.model, r.latency_ms, r.cost_micros) for r in pbs if not r.error])
        return router_pb2.BenchmarkResponse(results=pbs, recommended_model=best, recommendation=why)

    async def CheckKey(
        self, request: router_pb2.CheckKeyRequest, context: Any
    ) -> router_pb2.CheckKeyResponse:
        adapter = self._gw.adapters.get(request.service_id)
        if adapter is None:
            return router_pb2.CheckKeyResponse(
                check=common_pb2.LiveCheck(
                    result=common_pb2.LIVE_CHECK_RESULT_UNVERIFIED, detail="no live check for this service"
                )
            )
        outcome = await adapter.check_key(Credential(request.value, dict(request.fields)))
        return router_pb2.CheckKeyResponse(
            check=common_pb2.LiveCheck(
                result=LIVE[outcome.result], upstream_status=outcome.status, detail=outcome.detail
            )
        )


def _range(request: Any) -> tuple[datetime, datetime]:
    end = request.end_time.ToDatetime(tzinfo=UTC) if request.HasField("end_time") else datetime.now(UTC)
    start = (
        request.start_time.ToDatetime(tzinfo=UTC)
        if request.HasField("start_time")
        else end - timedelta(days=30)
    )
    if start >= end:
        raise InvalidArgument("start_time must be before end_time")
    return start, end


def _bucket(key: str, r: Any) -> router_pb2.AnalyticsBucket:
    return router_pb2.AnalyticsBucket(
        key=key or "",
        requests=r.requests,
        errors=r.errors,
        prompt_tokens=r.prompt_tokens,
        completion_tokens=r.completion_tokens,
        total_tokens=r.prompt_tokens + r.completion_tokens,
        cost_usd=r.cost_micros / 1_000_000,
        cost_micros=r.cost_micros,
        avg_latency_ms=float(r.avg_latency_ms),
    )
