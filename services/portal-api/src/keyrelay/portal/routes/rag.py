"""The RAG family (`/v1/rag/...`): collections, documents, search and grounded answers; thin
routes over rag-svc. The tenant is always the caller's (the platform admin names one with
`X-Tenant-ID`, as on every tenant-scoped route without a tenant in its path); a collection or
document of another tenant is 404, as rag-svc answers it, never 403.

Roles. SPEC §7 gives read_only "read metadata and usage" and full_access "manage provider
keys, inference, RAG". So read_only may list and read collections and documents: that is
metadata (names, titles, types, sizes, statuses, never a document's text). Everything else
needs full_access: creating, ingesting and deleting manage RAG, and search and answers return
the documents' text (an answer also spends the tenant's money), which is more than metadata.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from keyrelay.common.context import request_id_var
from keyrelay.common.errors import InvalidArgument
from keyrelay.common.rpc import call_metadata
from keyrelay.portal.adapters import inference
from keyrelay.portal.adapters.clients import Clients, open_stream, rpc
from keyrelay.portal.deps import ClientsDep
from keyrelay.portal.domain import rag_wire as wire
from keyrelay.portal.routes.keys import Manager, Reader
from keyrelay.portal.routes.openai import SSE_HEADERS
from keyrelay.v1 import rag_pb2

router = APIRouter(prefix="/v1/rag", tags=["rag"])

Limit = Annotated[int, Query(ge=1, le=wire.MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=100, description="the previous page's next_cursor")]
M = TypeVar("M", bound=BaseModel)


def upstream_deadline(clients: Clients) -> float:
    """Creating a collection, ingesting and searching may embed (and load the local model on
    first use); answers wait for a model: all get the upstream deadline, not the short one."""
    return clients.settings.portal_upstream_timeout_seconds


# -- collections ------------------------------------------------------------------------------


@router.post("/collections", status_code=201)
async def create_collection(
    body: wire.CollectionBody, caller: Manager, clients: ClientsDep
) -> dict[str, Any]:
    """A collection of the caller's tenant; its embedding model is fixed for its life
    (`local/all-MiniLM-L6-v2` by default, or a router embedding model through the tenant's key).
    409 when the tenant has a collection of that name."""
    request = wire.collection_request(body, caller.tenant())
    reply = await rpc("rag", clients.rag.CreateCollection, request, upstream_deadline(clients))
    return wire.collection_json(reply.collection)


@router.get("/collections")
async def list_collections(
    caller: Reader, clients: ClientsDep, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    """The tenant's collections, oldest first; pass `next_cursor` back as `cursor` for the next page."""
    request = rag_pb2.ListCollectionsRequest(tenant_id=caller.tenant(), page=wire.page(limit, cursor))
    return wire.collections_json(await rpc("rag", clients.rag.ListCollections, request))


@router.get("/collections/{collection_id}")
async def get_collection(collection_id: str, caller: Reader, clients: ClientsDep) -> dict[str, Any]:
    request = rag_pb2.GetCollectionRequest(
        tenant_id=caller.tenant(), collection_id=wire.check_id(collection_id, "collection")
    )
    return wire.collection_json((await rpc("rag", clients.rag.GetCollection, request)).collection)


@router.delete("/collections/{collection_id}", status_code=204, response_class=Response)
async def delete_collection(collection_id: str, caller: Manager, clients: ClientsDep) -> Response:
    """Delete the collection with its documents and chunks."""
    request = rag_pb2.DeleteCollectionRequest(
        tenant_id=caller.tenant(), collection_id=wire.check_id(collection_id, "collection")
    )
    await rpc("rag", clients.rag.DeleteCollection, request, upstream_deadline(clients))
    return Response(status_code=204)


# -- documents --------------------------------------------------------------------------------


def validated(model: type[M], data: bytes | dict[str, Any]) -> M:
    """`model` from a JSON body or form fields; what does not fit is a 422 like FastAPI's own."""
    try:
        if isinstance(data, bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as err:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in err.errors(include_url=False)]
        raise RequestValidationError(errors) from None


async def limited(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The request body, refused with 413 as soon as it passes the limit."""
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > wire.MAX_BODY_BYTES:
            raise wire.too_large()
        yield chunk


async def form_upload(request: Request) -> wire.Upload:
    parser = MultiPartParser(
        request.headers,
        limited(request.stream()),
        max_files=1,
        max_fields=16,
        max_part_size=wire.MAX_FORM_FIELD_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as err:
        raise InvalidArgument(f"invalid multipart body: {err.message}") from None
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            missing = {"loc": ("body", "file"), "msg": "Field required: upload the document as 'file'"}
            raise RequestValidationError([{**missing, "type": "missing"}])
        # An empty form field (as HTML forms send them) is an absent one.
        fields = {k: v for k, v in form.items() if isinstance(v, str) and v != ""}
        return wire.file_upload(
            validated(wire.UploadForm, fields), await file.read(), file.filename, file.content_type
        )
    finally:
        await form.close()


async def read_upload(request: Request) -> wire.Upload:
    """The document of an ingest request: a JSON body, or a multipart upload (`file`)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > wire.MAX_BODY_BYTES:
        raise wire.too_large()
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media == "multipart/form-data":
        return await form_upload(request)
    if media in ("", "application/json") or media.endswith("+json"):
        raw = b"".join([chunk async for chunk in limited(request.stream())])
        return wire.json_upload(validated(wire.DocumentBody, raw))
    raise wire.UnsupportedMediaType(
        f"a document is sent as application/json or as a multipart/form-data upload "
        f"(the file in 'file'), not as '{media[:80]}'"
    )


@router.post(
    "/collections/{collection_id}/documents",
    openapi_extra={"requestBody": wire.upload_schema()},
    responses={
        200: {"description": "The same content was already in the collection (`created: false`)."},
        201: {"description": "Stored, chunked and embedded: searchable now."},
        202: {"description": "Stored; processing continues in the background (poll the document)."},
        413: {"description": f"The document is larger than {wire.MAX_DOCUMENT_BYTES} bytes."},
        415: {"description": "Neither JSON nor a multipart form."},
    },
)
async def ingest_document(
    collection_id: str, request: Request, caller: Manager, clients: ClientsDep
) -> JSONResponse:
    """Add a document: JSON (`title`, `content`, optional `content_type`, `metadata`,
    `source_uri`) or a multipart upload (`file`, optional `title`, `content_type`, `metadata` as a
    JSON string, `source_uri`). Text, Markdown, HTML and PDF; idempotent by content hash."""
    tenant = caller.tenant()
    collection = wire.check_id(collection_id, "collection")
    upload = await read_upload(request)
    reply = await rpc(
        "rag",
        clients.rag.IngestDocument,
        wire.ingest_request(tenant, collection, upload),
        upstream_deadline(clients),
    )
    location = f"{router.prefix}/collections/{collection}/documents/{reply.document_id}"
    return JSONResponse(
        wire.ingested_json(reply), status_code=wire.ingested_status(reply), headers={"Location": location}
    )


@router.get("/collections/{collection_id}/documents")
async def list_documents(
    collection_id: str, caller: Reader, clients: ClientsDep, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    """The collection's documents (metadata, never content); page with `cursor` = `next_cursor`."""
    request = rag_pb2.ListDocumentsRequest(
        tenant_id=caller.tenant(),
        collection_id=wire.check_id(collection_id, "collection"),
        page=wire.page(limit, cursor),
    )
    return wire.documents_json(await rpc("rag", clients.rag.ListDocuments, request))


@router.get("/collections/{collection_id}/documents/{document_id}")
async def get_document(
    collection_id: str, document_id: str, caller: Reader, clients: ClientsDep
) -> dict[str, Any]:
    """A document's metadata and processing status (`pending`, `processing`, `ready`, `failed`
    with its `error`)."""
    request = rag_pb2.GetDocumentRequest(
        tenant_id=caller.tenant(),
        collection_id=wire.check_id(collection_id, "collection"),
        document_id=wire.check_id(document_id, "document"),
    )
    return wire.document_json((await rpc("rag", clients.rag.GetDocument, request)).document)


@router.delete(
    "/collections/{collection_id}/documents/{document_id}", status_code=204, response_class=Response
)
async def delete_document(
    collection_id: str, document_id: str, caller: Manager, clients: ClientsDep
) -> Response:
    """Delete the document and its chunks."""
    request = rag_pb2.DeleteDocumentRequest(
        tenant_id=caller.tenant(),
        collection_id=wire.check_id(collection_id, "collection"),
        document_id=wire.check_id(document_id, "document"),
    )
    await rpc("rag", clients.rag.DeleteDocument, request, upstream_deadline(clients))
    return Response(status_code=204)


# -- search and answers -----------------------------------------------------------------------


@router.post("/search")
async def search(body: wire.SearchBody, caller: Manager, clients: ClientsDep) -> dict[str, Any]:
    """Chunks of one collection, best first: `hybrid` (default: reciprocal rank fusion of the
    two), `vector` (cosine) or `keyword` (full text); `filters` match document metadata exactly."""
    request = wire.search_request(body, caller.tenant())
    return wire.search_json(await rpc("rag", clients.rag.Search, request, upstream_deadline(clients)))


@router.post("/answer", response_model=None)
async def answer(
    body: wire.AnswerBody, caller: Manager, clients: ClientsDep
) -> JSONResponse | StreamingResponse:
    """A grounded answer citing its sources as [n]; `stream: true` answers server-sent events."""
    request = wire.answer_request(body, caller)
    timeout = upstream_deadline(clients)
    if not body.stream:
        reply = await rpc("rag", clients.rag.Answer, request, timeout)
        inference.record_cost(reply, "rag")
        return JSONResponse(wire.answer_json(reply))

    # Returns once the first chunk has arrived: what fails before any output (unknown
    # collection, budget, rate limit, no key) is an HTTP error with its status, not an event.
    call = clients.rag.AnswerStream(request, metadata=call_metadata(), timeout=timeout)
    stream = await open_stream("rag", call, inference.spend_on_final("rag"))
    events = wire.answer_events(aiter(stream), request_id=request_id_var.get())

    async def send() -> AsyncIterator[str]:
        try:
            async for event in events:
                yield event
        finally:
            stream.cancel()  # the client went away, or the stream is over: release the RPC

    return StreamingResponse(send(), media_type="text/event-stream", headers=SSE_HEADERS)
