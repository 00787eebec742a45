"""OpenAI-compatible endpoints: `/v1/chat/completions`, `/v1/embeddings`, `/v1/models`.

The official OpenAI SDKs work unchanged with `base_url=<portal>/v1` and a `kr_...` key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from keyrelay.common.context import request_id_var
from keyrelay.common.errors import from_rpc_error
from keyrelay.common.rpc import call_metadata
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
        try:
            reply = await clients.router.Complete(request, metadata=call_metadata(), timeout=timeout)
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err) from err
        return JSONResponse(wire.completion_json(reply))

    call = clients.router.CompleteStream(request, metadata=call_metadata(), timeout=timeout)
    # The first chunk is awaited before answering, so that what fails before any output
    # (budget, rate limit, no key, bad model) is an HTTP error with its status.
    try:
        first = await call.read()
    except grpc.aio.AioRpcError as err:
        raise from_rpc_error(err) from err
    events = wire.chat_completion_events(
        _chunks(call, first), include_usage=body.include_usage, request_id=request_id_var.get()
    )

    async def send() -> AsyncIterator[str]:
        try:
            async for event in events:
                yield event
        finally:
            call.cancel()  # the client went away, or the stream is over: release the RPC

    return StreamingResponse(send(), media_type="text/event-stream", headers=SSE_HEADERS)


async def _chunks(call: Any, first: Any) -> AsyncIterator[router_pb2.CompleteStreamChunk]:
    """The stream's chunks (the first one already read); gRPC errors become domain errors."""
    chunk = first
    while chunk is not grpc.aio.EOF:
        yield chunk
        try:
            chunk = await call.read()
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err) from err


@router.post("/embeddings")
async def embeddings(body: wire.EmbeddingsBody, caller: InferenceCaller, clients: ClientsDep) -> JSONResponse:
    """Embeddings through the tenant's keys, with the same routing and accounting."""
    request = wire.embed_request(body, caller)
    try:
        reply = await clients.router.Embed(
            request, metadata=call_metadata(), timeout=clients.settings.portal_upstream_timeout_seconds
        )
    except grpc.aio.AioRpcError as err:
        raise from_rpc_error(err) from err
    return JSONResponse(wire.embeddings_json(reply, body.encoding_format))


@router.get("/models")
async def models(caller: CallerDep, clients: ClientsDep) -> JSONResponse:
    """The model catalog in OpenAI's list format (any role may read it)."""
    try:
        reply = await clients.router.ListModels(
            router_pb2.ListModelsRequest(), metadata=call_metadata(), timeout=10
        )
    except grpc.aio.AioRpcError as err:
        raise from_rpc_error(err) from err
    return JSONResponse(wire.models_json(reply))
