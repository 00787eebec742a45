"""The Rag gRPC servicer: maps messages to the Library and back, nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from keyrelay.common.context import check_tenant
from keyrelay.rag.adapters.store import CollectionRow, DocumentRow, Hit
from keyrelay.rag.domain import limits
from keyrelay.rag.domain.grounding import Source
from keyrelay.rag.library import Answer, Caller, Ingested, Library
from keyrelay.v1 import common_pb2, rag_pb2, rag_pb2_grpc

SERVICE_NAME = rag_pb2.DESCRIPTOR.services_by_name["Rag"].full_name

# Which service identities may call which RPC (see keyrelay.common.rpc).
ALLOW = {"*": ["portal"]}

STATUS = {
    "pending": rag_pb2.DOCUMENT_STATUS_PENDING,
    "processing": rag_pb2.DOCUMENT_STATUS_PROCESSING,
    "ready": rag_pb2.DOCUMENT_STATUS_READY,
    "failed": rag_pb2.DOCUMENT_STATUS_FAILED,
}
MODE = {
    rag_pb2.SEARCH_MODE_UNSPECIFIED: "hybrid",
    rag_pb2.SEARCH_MODE_HYBRID: "hybrid",
    rag_pb2.SEARCH_MODE_VECTOR: "vector",
    rag_pb2.SEARCH_MODE_KEYWORD: "keyword",
}


def ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def collection_pb(c: CollectionRow) -> rag_pb2.Collection:
    return rag_pb2.Collection(
        collection_id=c.id,
        tenant_id=c.tenant_id,
        name=c.name,
        embedding_model=c.embedding_model,
        dimensions=c.dimensions,
        created_at=ts(c.created_at),
        document_count=c.document_count,
    )


def document_pb(d: DocumentRow) -> rag_pb2.Document:
    return rag_pb2.Document(
        document_id=d.id,
        tenant_id=d.tenant_id,
        collection_id=d.collection_id,
        title=d.title,
        content_type=d.content_type,
        metadata=d.metadata,
        source_uri=d.source_uri,
        content_hash=d.content_hash,
        size_bytes=d.size_bytes,
        status=STATUS[d.status],
        chunks=d.chunks,
        error=d.error,
        created_at=ts(d.created_at),
        updated_at=ts(d.updated_at),
    )


def hit_pb(h: Hit) -> rag_pb2.SearchResult:
    return rag_pb2.SearchResult(
        chunk_id=h.chunk_id,
        document_id=h.document_id,
        title=h.title,
        text=h.text,
        score=h.score,
        metadata=h.metadata,
        chunk_index=h.chunk_index,
    )


def citation_pb(s: Source) -> rag_pb2.Citation:
    return rag_pb2.Citation(n=s.n, document_id=s.document_id, chunk_id=s.chunk_id, title=s.title, text=s.text)


def next_token(count: int, limit: int, offset: int) -> str:
    return str(offset + limit) if count == limit else ""


def caller(request: rag_pb2.AnswerRequest) -> Caller:
    return Caller(
        access_key_id=request.access_key_id,
        access_key_rate_limit=request.access_key_rate_limit,
        model=request.model or "auto",
        filters=dict(request.filters),
    )


def ingested_pb(result: Ingested) -> rag_pb2.IngestDocumentResponse:
    d = result.document
    return rag_pb2.IngestDocumentResponse(
        document_id=d.id,
        status=STATUS[d.status],
        chunks=d.chunks,
        created=result.created,
        job_id=result.job_id,
    )


def final_fields(answer: Answer) -> dict[str, Any]:
    c = answer.completion
    return {
        "citations": [citation_pb(s) for s in answer.citations],
        "usage": c.usage,
        "cost_usd": c.cost_usd,
        "cost_micros": c.cost_micros,
        "route": c.route,
    }


class RagServicer(rag_pb2_grpc.RagServicer):
    def __init__(self, library: Library) -> None:
        self.library = library

    async def CreateCollection(self, request, context):  # noqa: ANN001, ANN201, N802
        tenant = check_tenant(request.tenant_id)
        row = await self.library.create_collection(tenant, request.name, request.embedding_model)
        return rag_pb2.CreateCollectionResponse(collection=collection_pb(row))

    async def ListCollections(self, request, context):  # noqa: ANN001, ANN201, N802
        tenant = check_tenant(request.tenant_id)
        limit, offset = limits.page(request.page.page_size, request.page.page_token)
        rows = await self.library.store.list_collections(tenant, limit, offset)
        return rag_pb2.ListCollectionsResponse(
            collections=[collection_pb(r) for r in rows],
            page=common_pb2.PageResponse(next_page_token=next_token(len(rows), limit, offset)),
        )

    async def GetCollection(self, request, context):  # noqa: ANN001, ANN201, N802
        tenant = check_tenant(request.tenant_id)
        row = await self.library.store.get_collection(tenant, request.collection_id)
        return rag_pb2.GetCollectionResponse(collection=collection_pb(row))

    async def DeleteCollection(self, request, context):  # noqa: ANN001, ANN201, N802
        await self.library.delete_collection(check_tenant(request.tenant_id), request.collection_id)
        return rag_pb2.DeleteCollectionResponse()

    async def IngestDocument(self, request, context):  # noqa: ANN001, ANN201, N802
        tenant = check_tenant(request.tenant_id)
        is_text = request.WhichOneof("body") == "text"
        content = request.text.encode() if is_text else request.content
        result = await self.library.ingest(
            tenant,
            request.collection_id,
            content,
            request.content_type or ("text/plain" if is_text else ""),
            request.title,
            dict(request.metadata),
            request.source_uri,
        )
        return ingested_pb(result)

    async def GetDocument(self, request, context):  # noqa: ANN001, ANN201, N802
        tenant = check_tenant(request.tenant_id)
        row = await self.library.store.get_document(tenant, request.collection_id, request.document_id)
        return rag_pb2.GetDocumentResponse(document=document_pb(row))

    async def ListDocuments(self, request, context):  # noqa: ANN001, ANN201, N802
        tenant = check_tenant(request.tenant_id)
        limit, offset = limits.page(request.page.page_size, request.page.page_token)
        await self.library.store.get_collection(tenant, request.collection_id)
        rows = await self.library.store.list_documents(tenant, request.collection_id, limit, offset)
        return rag_pb2.ListDocumentsResponse(
            documents=[document_pb(r) for r in rows],
            page=common_pb2.PageResponse(next_page_token=next_token(len(rows), limit, offset)),
        )

    async def DeleteDocument(self, request, context):  # noqa: ANN001, ANN201, N802
        tenant = check_tenant(request.tenant_id)
        await self.library.delete_document(tenant, request.collection_id, request.document_id)
        return rag_pb2.DeleteDocumentResponse()

    async def ReindexDocument(self, request, context):  # noqa: ANN001, ANN201, N802
        tenant = check_tenant(request.tenant_id)
        result = await self.library.reindex(tenant, request.collection_id, request.document_id)
        return rag_pb2.ReindexDocumentResponse(document=document_pb(result.document), job_id=result.job_id)

    async def Search(self, request, context):  # noqa: ANN001, ANN201, N802
        tenant = check_tenant(request.tenant_id)
        hits = await self.library.search(
            tenant,
            request.collection_id,
            request.query,
            limits.top_k(request.top_k),
            MODE.get(request.mode, "hybrid"),
            dict(request.filters),
        )
        return rag_pb2.SearchResponse(results=[hit_pb(h) for h in hits])

    async def Answer(self, request, context):  # noqa: ANN001, ANN201, N802
        tenant = check_tenant(request.tenant_id)
        k = limits.top_k(request.top_k, limits.DEFAULT_ANSWER_TOP_K)
        answer = await self.library.answer(
            tenant, request.collection_id, request.question, k, caller(request)
        )
        return rag_pb2.AnswerResponse(answer=answer.text, **final_fields(answer))

    async def AnswerStream(self, request, context) -> AsyncIterator[rag_pb2.AnswerStreamChunk]:  # noqa: ANN001, N802
        tenant = check_tenant(request.tenant_id)
        k = limits.top_k(request.top_k, limits.DEFAULT_ANSWER_TOP_K)
        async for item in self.library.answer_stream(
            tenant, request.collection_id, request.question, k, caller(request)
        ):
            if isinstance(item, str):
                yield rag_pb2.AnswerStreamChunk(delta=item)
            else:
                final = rag_pb2.AnswerStreamFinal(
                    finish_reason=item.completion.finish_reason, **final_fields(item)
                )
                yield rag_pb2.AnswerStreamChunk(final=final)
