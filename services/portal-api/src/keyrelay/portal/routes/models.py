"""Models & usage (`/api/brain/openrouter/...`) and the tenant family's `/api/brain/ai/chat`:
thin routes over llm-router-svc's catalog, completion, ledger, analytics and benchmark RPCs.

Roles: any authenticated caller reads the model catalog; read_only reads its tenant's usage;
full_access runs completions and benchmarks. A `{tenant_id}` in a path that is not the
caller's tenant is 403 (the platform admin may read any tenant's usage).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse

from keyrelay.common.context import request_id_var
from keyrelay.portal.adapters import inference
from keyrelay.portal.adapters.clients import Clients, rpc
from keyrelay.portal.deps import CallerDep, ClientsDep, InferenceCaller
from keyrelay.portal.domain import models_wire as wire
from keyrelay.portal.domain.auth import Caller
from keyrelay.portal.routes.keys import Reader, act_for
from keyrelay.v1 import router_pb2

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
Since = Annotated[datetime | None, Query(description="ISO 8601; default 30 days before `until`")]
Until = Annotated[datetime | None, Query(description="ISO 8601, exclusive; default now")]

openrouter = APIRouter(prefix="/api/brain/openrouter", tags=["models & usage"])
ai = APIRouter(prefix="/api/brain/ai", tags=["tenant"])
portal_usage = APIRouter(prefix="/api/brain/portal", tags=["client portal"])


# -- the one chat implementation -----------------------------------------------------------


async def chat(
    body: wire.CompletionBody | wire.ChatBody, caller: Caller, clients: Clients
) -> JSONResponse | StreamingResponse:
    """A completion routed by llm-router-svc; `stream: true` answers server-sent events."""
    request = wire.complete_request(body, caller)
    timeout = clients.settings.portal_upstream_timeout_seconds
    if not body.stream:
        return JSONResponse(wire.completion_json(await inference.complete(clients, request, timeout)))

    # Returns once the first chunk has arrived: what fails before any output (budget, rate
    # limit, no key, unknown model) is an HTTP error with its status, not an event.
    stream = await inference.complete_stream(clients, request, timeout)
    events = wire.chat_events(aiter(stream), request_id=request_id_var.get())

    async def send() -> AsyncIterator[str]:
        try:
            async for event in events:
                yield event
        finally:
            stream.cancel()

    return StreamingResponse(send(), media_type="text/event-stream", headers=SSE_HEADERS)


@ai.post("/chat", response_model=None)
async def ai_chat(
    body: wire.ChatBody, caller: InferenceCaller, clients: ClientsDep
) -> JSONResponse | StreamingResponse:
    """Chat: `message` or `messages`, `task_type`, `model_preference` (`auto` or a model id)."""
    return await chat(body, caller, clients)


@openrouter.post("/completions", response_model=None)
async def completions(
    body: wire.CompletionBody, caller: InferenceCaller, clients: ClientsDep
) -> JSONResponse | StreamingResponse:
    """A completion: `messages` or `prompt`, `model` (`auto` by default), `task_type`."""
    return await chat(body, caller, clients)


# -- model catalog ------------------------------------------------------------------------


@openrouter.get("/models")
async def list_models(
    caller: CallerDep,
    clients: ClientsDep,
    task: str | None = None,
    tier: str | None = None,
    provider: str | None = None,
) -> dict[str, Any]:
    """The catalog; `task`, `tier` (this tier or cheaper) and `provider` filters combine."""
    request = wire.list_models_request(task, tier, provider)
    return wire.models_json(await rpc("router", clients.router.ListModels, request))


@openrouter.get("/models/{model_id:path}")
async def get_model(model_id: str, caller: CallerDep, clients: ClientsDep) -> dict[str, Any]:
    """One model by its `provider/model` id."""
    reply = await rpc("router", clients.router.GetModel, router_pb2.GetModelRequest(model_id=model_id))
    return wire.model_json(reply.model)


# -- usage and analytics -----------------------------------------------------------------


@openrouter.get("/usage/{tenant_id}")
async def usage(
    tenant_id: str,
    caller: Reader,
    clients: ClientsDep,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=wire.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """The ledger, newest first; pass `next_cursor` back as `cursor` for the next page."""
    tenant = act_for(caller, tenant_id)
    reply = await rpc(
        "router", clients.router.GetUsage, wire.usage_request(tenant, since, until, limit, cursor)
    )
    return wire.usage_json(tenant, reply)


@openrouter.get("/analytics/{tenant_id}")
async def analytics(
    tenant_id: str,
    caller: Reader,
    clients: ClientsDep,
    group_by: wire.GroupBy = "day",
    since: Since = None,
    until: Until = None,
) -> dict[str, Any]:
    """Buckets by model, provider or UTC day, the totals, and cost recommendations."""
    tenant = act_for(caller, tenant_id)
    request = wire.analytics_request(tenant, group_by, since, until)
    return wire.analytics_json(tenant, group_by, await rpc("router", clients.router.GetAnalytics, request))


@portal_usage.get("/tenant/{tenant_id}/usage-stats")
async def usage_stats(
    tenant_id: str, caller: Reader, clients: ClientsDep, since: Since = None, until: Until = None
) -> dict[str, Any]:
    """The portal's usage page: totals and per-model buckets, this month's budget, advice."""
    tenant = act_for(caller, tenant_id)
    stats, budget = await asyncio.gather(
        rpc("router", clients.router.GetAnalytics, wire.analytics_request(tenant, "model", since, until)),
        rpc("router", clients.router.GetBudget, router_pb2.GetBudgetRequest(tenant_id=tenant)),
    )
    return wire.usage_stats_json(tenant, stats, budget)


# -- benchmark ----------------------------------------------------------------------------


@openrouter.post("/benchmark")
async def benchmark(body: wire.BenchmarkBody, caller: InferenceCaller, clients: ClientsDep) -> dict[str, Any]:
    """The same prompt against each of `models` (in order), and which one to prefer."""
    request = wire.benchmark_request(body, caller)
    timeout = clients.settings.portal_upstream_timeout_seconds
    return wire.benchmark_json(await inference.benchmark(clients, request, timeout))
