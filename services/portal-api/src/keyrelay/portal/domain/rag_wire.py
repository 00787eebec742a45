"""The RAG family (`/v1/rag/...`) on the HTTP wire, translated to and from rag-svc's messages.
No I/O.

Bodies are JSON (unknown fields are ignored, missing required ones give 422), except that a
document may also be uploaded as a multipart form: the file in `file`, and optional `title`,
`content_type`, `metadata` (a JSON object as a string) and `source_uri` fields. A document is
at most `MAX_DOCUMENT_BYTES` (rag-svc's own limit); a larger one, or a larger body, is 413.
Answer streams are server-sent events: `{"delta": ...}` events, then one final event with the
citations, usage, cost and route, then `[DONE]`.

Ids: a collection or document id that is not the caller's is 404 (rag-svc scopes every query
to the tenant); one that cannot be an id at all is 404 too, before any call is made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

import grpc
from pydantic import AfterValidator, BaseModel, Field, Json

from keyrelay.common.errors import KeyrelayError, NotFound, UpstreamError
from keyrelay.portal.domain.auth import Caller
from keyrelay.portal.domain.keys_wire import timestamp
from keyrelay.portal.domain.openai_wire import DONE, error_event, route_json, sse
from keyrelay.portal.domain.openai_wire import usage_json as token_usage_json
from keyrelay.v1 import common_pb2, rag_pb2

DEFAULT_EMBEDDING_MODEL = "local/all-MiniLM-L6-v2"
# rag-svc refuses a document larger than this (its `rag_max_document_bytes` default).
MAX_DOCUMENT_BYTES = 20_000_000
# A request body may be this much larger than the document it carries: JSON escaping,
# multipart boundaries and headers, and the other fields.
BODY_ENVELOPE_BYTES = 1_048_576
MAX_BODY_BYTES = MAX_DOCUMENT_BYTES + BODY_ENVELOPE_BYTES
MAX_FORM_FIELD_BYTES = 256 * 1024  # any multipart field but the file
MAX_TOP_K = 100
MAX_QUESTION_CHARS = 4_000
MAX_PAGE = 1000
COLLECTION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$"  # rag-svc's rule, documented here
# What rag-svc hands out is `col_<hex>` / `doc_<hex>`; this only keeps what cannot be an id
# (NUL, slashes, unicode, megabytes) from travelling further.
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
MAX_ID_LENGTH = 100

SearchMode = Literal["hybrid", "vector", "keyword"]
MODES: dict[str, int] = {
    "hybrid": rag_pb2.SEARCH_MODE_HYBRID,
    "vector": rag_pb2.SEARCH_MODE_VECTOR,
    "keyword": rag_pb2.SEARCH_MODE_KEYWORD,
}
STATUS_NAMES: dict[int, str] = {
    rag_pb2.DOCUMENT_STATUS_PENDING: "pending",
    rag_pb2.DOCUMENT_STATUS_PROCESSING: "processing",
    rag_pb2.DOCUMENT_STATUS_READY: "ready",
    rag_pb2.DOCUMENT_STATUS_FAILED: "failed",
}
SUPPORTED_TYPES = ("text/plain", "text/markdown", "text/html", "application/pdf")
_BY_EXTENSION = {
    ".pdf": "application/pdf",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
}
# What clients send when they do not know a file's type: the filename decides instead.
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/unknown"})
_TYPE_ALIASES = {"text/x-markdown": "text/markdown", "application/x-pdf": "application/pdf"}


class PayloadTooLarge(KeyrelayError):
    type = "payload_too_large"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 413


class UnsupportedMediaType(KeyrelayError):
    type = "unsupported_media_type"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 415


def too_large(size: int | None = None) -> PayloadTooLarge:
    said = f"the document is {size} bytes; " if size is not None else "the request body is too large; "
    return PayloadTooLarge(
        said + f"a document may be at most {MAX_DOCUMENT_BYTES} bytes "
        f"({MAX_BODY_BYTES} bytes for the whole request)"
    )


def check_id(value: str, what: Literal["collection", "document"]) -> str:
    """A collection or document id as the path or body gave it; one that cannot be an id is
    reported like an id that is not the caller's."""
    if not value or len(value) > MAX_ID_LENGTH or not _ID_CHARS.issuperset(value):
        raise NotFound(f"{what} '{value[:MAX_ID_LENGTH]}' not found")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
StringMap = dict[Text, Text]
_ID = Field(min_length=1, max_length=MAX_ID_LENGTH)
_TOP_K = Field(default=None, ge=1, le=MAX_TOP_K)

# -- request bodies -------------------------------------------------------------------------


class CollectionBody(BaseModel):
    """`POST /v1/rag/collections`."""

    name: str = Field(pattern=COLLECTION_NAME_PATTERN, description="unique in the tenant")
    embedding_model: Text = Field(default=DEFAULT_EMBEDDING_MODEL, min_length=1, max_length=200)


class DocumentBody(BaseModel):
    """`POST /v1/rag/collections/{collection_id}/documents` as JSON."""

    title: Text = Field(max_length=500)
    content: str = Field(min_length=1)
    content_type: Text | None = Field(default=None, max_length=200)
    metadata: StringMap = Field(default_factory=dict)
    source_uri: Text | None = Field(default=None, max_length=2000)


class UploadForm(BaseModel):
    """The fields beside `file` of a multipart document upload."""

    title: Text | None = Field(default=None, max_length=500)
    content_type: Text | None = Field(default=None, max_length=200)
    metadata: Json[StringMap] | None = None
    source_uri: Text | None = Field(default=None, max_length=2000)


class SearchBody(BaseModel):
    """`POST /v1/rag/search`."""

    collection_id: str = _ID
    query: Text = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    top_k: int | None = _TOP_K  # rag-svc's default: 10
    mode: SearchMode = "hybrid"
    filters: StringMap = Field(default_factory=dict)


class AnswerBody(BaseModel):
    """`POST /v1/rag/answer`."""

    collection_id: str = _ID
    question: Text = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    model: Text = Field(default="auto", min_length=1, max_length=200)
    top_k: int | None = _TOP_K  # rag-svc's default: 5
    filters: StringMap = Field(default_factory=dict)
    stream: bool = False


def upload_schema() -> dict[str, Any]:
    """The OpenAPI request body of a document upload: JSON, or a multipart form."""
    form = {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary"},
            "title": {"type": "string", "maxLength": 500},
            "content_type": {
                "type": "string",
                "maxLength": 200,
                "description": "default: the file's type, else guessed from its name; one of "
                + ", ".join(SUPPORTED_TYPES),
            },
            "metadata": {"type": "string", "description": 'a JSON object of strings, e.g. {"team": "ops"}'},
            "source_uri": {"type": "string", "maxLength": 2000},
        },
    }
    return {
        "required": True,
        "content": {
            "application/json": {"schema": DocumentBody.model_json_schema()},
            "multipart/form-data": {"schema": form},
        },
    }


# -- requests to rag-svc ----------------------------------------------------------------------


@dataclass
class Upload:
    """A document to ingest, from a JSON body (`text`) or an uploaded file (`content`)."""

    title: str
    body: str | bytes
    content_type: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    source_uri: str = ""

    @property
    def size(self) -> int:
        return len(self.body.encode() if isinstance(self.body, str) else self.body)


def json_upload(body: DocumentBody) -> Upload:
    upload = Upload(body.title, body.content, body.content_type or "", body.metadata, body.source_uri or "")
    if upload.size > MAX_DOCUMENT_BYTES:
        raise too_large(upload.size)
    return upload


def upload_content_type(explicit: str | None, sent: str | None, filename: str | None) -> str:
    """The content type of an uploaded file: the form's `content_type` field, else the file's
    own type unless it is a generic one (octet-stream), else a guess from the filename's
    extension; a file of no known type keeps the type it came with, for rag-svc to refuse."""
    if explicit:
        return explicit
    media, sep, params = (sent or "").partition(";")
    media = media.strip().lower()
    if media not in _GENERIC_TYPES:
        return _TYPE_ALIASES.get(media, media) + sep + params
    guessed = _BY_EXTENSION.get(PurePosixPath(filename or "").suffix.lower())
    return guessed or media or "application/octet-stream"


def file_upload(form: UploadForm, data: bytes, filename: str | None, sent_type: str | None) -> Upload:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise too_large(len(data))
    name = PurePosixPath((filename or "").replace("\\", "/")).name.replace("\x00", "")
    return Upload(
        title=form.title if form.title else name[:500],
        body=data,
        content_type=upload_content_type(form.content_type, sent_type, filename),
        metadata=form.metadata or {},
        source_uri=form.source_uri or "",
    )


def collection_request(body: CollectionBody, tenant_id: str) -> rag_pb2.CreateCollectionRequest:
    return rag_pb2.CreateCollectionRequest(
        tenant_id=tenant_id, name=body.name, embedding_model=body.embedding_model
    )


def page(limit: int, cursor: str | None) -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page_size=limit, page_token=cursor or "")


def ingest_request(tenant_id: str, collection_id: str, upload: Upload) -> rag_pb2.IngestDocumentRequest:
    request = rag_pb2.IngestDocumentRequest(
        tenant_id=tenant_id,
        collection_id=collection_id,
        title=upload.title,
        content_type=upload.content_type,
        metadata=upload.metadata,
        source_uri=upload.source_uri,
    )
    if isinstance(upload.body, str):
        request.text = upload.body
    else:
        request.content = upload.body
    return request


def search_request(body: SearchBody, tenant_id: str) -> rag_pb2.SearchRequest:
    return rag_pb2.SearchRequest(
        tenant_id=tenant_id,
        collection_id=check_id(body.collection_id, "collection"),
        query=body.query,
        top_k=body.top_k or 0,
        mode=MODES[body.mode],  # type: ignore[arg-type]
        filters=body.filters,
    )


def answer_request(body: AnswerBody, caller: Caller) -> rag_pb2.AnswerRequest:
    """The caller's tenant, and its access key for the router's per-key rate limit."""
    return rag_pb2.AnswerRequest(
        tenant_id=caller.tenant(),
        collection_id=check_id(body.collection_id, "collection"),
        question=body.question,
        model=body.model,
        top_k=body.top_k or 0,
        filters=body.filters,
        access_key_id=caller.key_id or "",
        access_key_rate_limit=caller.rate_limit,
    )


# -- answers ----------------------------------------------------------------------------------


def collection_json(c: rag_pb2.Collection) -> dict[str, Any]:
    return {
        "collection_id": c.collection_id,
        "name": c.name,
        "embedding_model": c.embedding_model,
        "dimensions": c.dimensions,
        "created_at": timestamp(c, "created_at"),
        "document_count": c.document_count,
    }


def collections_json(reply: rag_pb2.ListCollectionsResponse) -> dict[str, Any]:
    collections = [collection_json(c) for c in reply.collections]
    return {
        "collections": collections,
        "count": len(collections),
        "next_cursor": reply.page.next_page_token or None,
    }


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, "pending")


def document_json(d: rag_pb2.Document) -> dict[str, Any]:
    return {
        "document_id": d.document_id,
        "collection_id": d.collection_id,
        "title": d.title,
        "content_type": d.content_type,
        "metadata": dict(d.metadata),
        "source_uri": d.source_uri or None,
        "content_hash": d.content_hash,
        "size_bytes": d.size_bytes,
        "status": status_name(d.status),
        "chunks": d.chunks,
        "error": d.error or None,
        "created_at": timestamp(d, "created_at"),
        "updated_at": timestamp(d, "updated_at"),
    }


def documents_json(reply: rag_pb2.ListDocumentsResponse) -> dict[str, Any]:
    documents = [document_json(d) for d in reply.documents]
    return {
        "documents": documents,
        "count": len(documents),
        "next_cursor": reply.page.next_page_token or None,
    }


def ingested_status(reply: rag_pb2.IngestDocumentResponse) -> int:
    """200: the same content was already there; 202: processing continues in the background
    (poll the document); 201: stored and searchable."""
    if not reply.created:
        return 200
    if reply.status in (rag_pb2.DOCUMENT_STATUS_PENDING, rag_pb2.DOCUMENT_STATUS_PROCESSING):
        return 202
    return 201


def ingested_json(reply: rag_pb2.IngestDocumentResponse) -> dict[str, Any]:
    return {
        "document_id": reply.document_id,
        "status": status_name(reply.status),
        "chunks": reply.chunks,
        "created": reply.created,
        "job_id": reply.job_id or None,
    }


def search_json(reply: rag_pb2.SearchResponse) -> dict[str, Any]:
    return {
        "results": [
            {
                "chunk_id": r.chunk_id,
                "document_id": r.document_id,
                "title": r.title,
                "text": r.text,
                "score": r.score,
                "chunk_index": r.chunk_index,
                "metadata": dict(r.metadata),
            }
            for r in reply.results
        ]
    }


def citation_json(c: rag_pb2.Citation) -> dict[str, Any]:
    return {"n": c.n, "document_id": c.document_id, "chunk_id": c.chunk_id, "title": c.title, "text": c.text}


def _usage(usage: common_pb2.Usage) -> dict[str, Any]:
    return {**token_usage_json(usage), "estimated": usage.estimated}


def _priced(
    reply: rag_pb2.AnswerResponse | rag_pb2.AnswerStreamFinal,
) -> dict[str, Any]:
    return {
        "citations": [citation_json(c) for c in reply.citations],
        "usage": _usage(reply.usage),
        "cost_usd": reply.cost_usd,
        "cost_micros": reply.cost_micros,
        "route": route_json(reply.route),
    }


def answer_json(reply: rag_pb2.AnswerResponse) -> dict[str, Any]:
    return {"answer": reply.answer, **_priced(reply)}


async def answer_events(
    chunks: AsyncIterator[rag_pb2.AnswerStreamChunk], *, request_id: str | None
) -> AsyncIterator[str]:
    """SSE for an answer stream: `{"delta": ...}` events, a final event (`done: true`,
    `finish_reason`, citations, usage, cost, route), then `[DONE]`. A `KeyrelayError` from
    `chunks` (a failure mid-stream) becomes an `error` event followed by `[DONE]`."""
    try:
        async for chunk in chunks:
            if chunk.WhichOneof("event") == "final":
                final = chunk.final
                yield sse({"done": True, "finish_reason": final.finish_reason or "stop", **_priced(final)})
                yield DONE
                return
            if chunk.delta:
                yield sse({"delta": chunk.delta})
        raise UpstreamError("the answer's stream ended before its final chunk")
    except KeyrelayError as err:
        yield error_event(err, request_id)
        yield DONE
