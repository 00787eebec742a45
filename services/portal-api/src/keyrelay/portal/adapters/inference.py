"""The calls to llm-router-svc that cost money: completions (plain and streamed), embeddings and
benchmarks, for every route family (OpenAI-compatible, `/api/brain/ai/chat`,
`/api/brain/openrouter/...`). Each records the cost the router reports in the spend counter
here (`metrics.record_spend`), not in routes; failures are counted by `rpc`/`open_stream`.

Other priced answers use the same two helpers: a RAG answer is
`record_cost(reply, "rag")`, a streamed one `open_stream("rag", call, spend_on_final("rag"))`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from keyrelay.common.rpc import call_metadata
from keyrelay.portal.adapters.clients import Clients, ServerStream, open_stream, rpc
from keyrelay.portal.adapters.metrics import provider_of, record_spend
from keyrelay.v1 import common_pb2, router_pb2


class Priced(Protocol):
    """An answer the router priced: CompleteResponse, CompleteStreamFinal, EmbedResponse,
    rag-svc's AnswerResponse and AnswerStreamFinal."""

    @property
    def route(self) -> common_pb2.Route: ...

    @property
    def cost_micros(self) -> int: ...


def record_cost(priced: Priced, task: str | int) -> None:
    """Add what `priced` cost to the spend of its route's provider for `task` (a name or a
    `TaskType` value)."""
    route = priced.route
    record_spend(provider_of(route.provider, route.model), task, priced.cost_micros)


def spend_on_final(task: str | int) -> Callable[[Any], None]:
    """An `open_stream` observer recording the cost of a stream's `final` chunk
    (CompleteStreamChunk, AnswerStreamChunk) as it passes."""

    def observe(chunk: Any) -> None:
        if chunk.WhichOneof("event") == "final":
            record_cost(chunk.final, task)

    return observe


async def complete(
    clients: Clients, request: router_pb2.CompleteRequest, deadline: float
) -> router_pb2.CompleteResponse:
    reply = await rpc("router", clients.router.Complete, request, deadline)
    record_cost(reply, request.task_type)
    return reply


async def complete_stream(
    clients: Clients, request: router_pb2.CompleteRequest, deadline: float
) -> ServerStream[router_pb2.CompleteStreamChunk]:
    """The stream once its first chunk has arrived; the final chunk's cost is recorded as it
    passes. The caller cancels it when done (`ServerStream.cancel`)."""
    call = clients.router.CompleteStream(request, metadata=call_metadata(), timeout=deadline)
    return await open_stream("router", call, spend_on_final(request.task_type))


async def embed(
    clients: Clients, request: router_pb2.EmbedRequest, deadline: float
) -> router_pb2.EmbedResponse:
    reply = await rpc("router", clients.router.Embed, request, deadline)
    record_cost(reply, common_pb2.TASK_TYPE_EMBEDDING)
    return reply


async def benchmark(
    clients: Clients, request: router_pb2.BenchmarkRequest, deadline: float
) -> router_pb2.BenchmarkResponse:
    """Each model that answered cost something: its result is recorded under its provider (a
    result carries the `provider/model` id, not a route)."""
    reply = await rpc("router", clients.router.Benchmark, request, deadline)
    for result in reply.results:
        record_spend(provider_of("", result.model), request.task_type, result.cost_micros)
    return reply
