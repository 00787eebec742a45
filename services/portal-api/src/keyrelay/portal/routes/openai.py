"""OpenAI-compatible endpoints: `/v1/chat/completions`, `/v1/embeddings`, `/v1/models`.

The official OpenAI SDKs work unchanged with `base_url=<portal>/v1` and a `kr_...` key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from keyrelay.common.context import request_id_var
from keyrelay.portal.adapters import inference
from keyrelay.portal.adapters.clients import rpc
from keyrelay.portal.deps import CallerDep, ClientsDep, InferenceCaller
from keyrelay.portal.domain import openai_wire as wire
from keyrelay.v1 import router_pb2

router = APIRouter(prefix="/v1", tags=["openai"])

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: wire.ChatCompletionBody, caller: InferenceCaller, clients: ClientsDep
) -> JSONResponse | StreamingResponse:
    """A chat completion routed by llm-router-svc; `stream: true` answers server-sent events."""
    request = wire.complete_request(body, caller)
    timeout = clients.settings.portal_upstream_timeout_seconds
    if not body.stream:
        return JSONResponse(wire.completion_json(await inference.complete(clients, request, timeout)))

    # Returns once the first chunk has arrived: what fails before any output (budget, rate
    # limit, no key, bad model) is an HTTP error with its status.
    stream = await inference.complete_stream(clients, request, timeout)
    events = wire.chat_completion_events(
        aiter(stream), include_usage=body.include_usage, request_id=request_id_var.get()
    )

    async def send() -> AsyncIterator[str]:
        try:
            async for event in events:
                yield event
        finally:
            stream.cancel()  # the client went away, or the stream is over: release the RPC

    return StreamingResponse(send(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.post("/embeddings")
async def embeddings(body: wire.EmbeddingsBody, caller: InferenceCaller, clients: ClientsDep) -> JSONResponse:
    """Embeddings through the tenant's keys, with the same routing and accounting."""
    request = wire.embed_request(body, caller)
    reply = await inference.embed(clients, request, clients.settings.portal_upstream_timeout_seconds)
    return JSONResponse(wire.embeddings_json(reply, body.encoding_format))


@router.get("/models")
async def models(caller: CallerDep, clients: ClientsDep) -> JSONResponse:
    """The model catalog in OpenAI's list format (any role may read it)."""
    reply = await rpc("router", clients.router.ListModels, router_pb2.ListModelsRequest())
    return JSONResponse(wire.models_json(reply))
