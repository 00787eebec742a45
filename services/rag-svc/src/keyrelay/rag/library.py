"""A tenant's document library: collections, ingestion, search and grounded answers.

The gRPC servicer maps messages to these methods; this module holds the flow and leaves the
pure parts to domain/ (extraction, chunking, fusion, grounding) and the I/O to adapters/.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import grpc

from keyrelay.common.audit import Auditor
from keyrelay.common.context import request_id_var
from keyrelay.common.db import POOL_ERRORS
from keyrelay.common.errors import InvalidArgument, KeyrelayError, from_rpc_error
from keyrelay.common.events import usage_event
from keyrelay.common.nats_helpers import EventNotRecorded, EventPublisher
from keyrelay.common.rpc import call_metadata
from keyrelay.rag.adapters.embedders import LOCAL_MODEL, Embedded, Embedder, LocalEmbedder, RouterEmbedder
from keyrelay.rag.adapters.retrieval import Retrieval
from keyrelay.rag.adapters.schema import MAX_DIMS
from keyrelay.rag.adapters.store import CollectionRow, DocumentRow, Hit, NewChunk, RagStore, new_id
from keyrelay.rag.config import RagSettings
from keyrelay.rag.domain import limits
from keyrelay.rag.domain.chunking import Chunk, Tokenize, chunk_text
from keyrelay.rag.domain.extract import SUPPORTED_TYPES, extract_text
from keyrelay.rag.domain.fusion import reciprocal_rank_fusion
from keyrelay.rag.domain.grounding import Source, build_messages, citations
from keyrelay.v1 import common_pb2, router_pb2, router_pb2_grpc

log = logging.getLogger(__name__)
SOURCE = "rag-svc"
MODES = ("hybrid", "vector", "keyword")
# Each side of a hybrid search contributes this many candidates per result asked for.
HYBRID_DEPTH = 4


@dataclass(frozen=True)
class Ingested:
    document: DocumentRow
    created: bool
    job_id: str = ""


@dataclass(frozen=True)
class Answer:
    text: str
    citations: list[Source]
    completion: Any  # router_pb2.CompleteResponse or CompleteStreamFinal


@dataclass
class Caller:
    """Who the answer is for, forwarded to the router's rate limits."""

    access_key_id: str = ""
    access_key_rate_limit: int = 0
    model: str = "auto"
    filters: dict[str, str] = field(default_factory=dict)


class Library:
    def __init__(
        self,
        settings: RagSettings,
        store: RagStore,
        retrieval: Retrieval,
        local: LocalEmbedder,
        tokenize: Tokenize,
        router: router_pb2_grpc.RouterStub,
        publisher: EventPublisher,
    ) -> None:
        self.settings = settings
        self.store = store
        self.retrieval = retrieval
        self.local = local
        self.tokenize = tokenize
        self.router = router
        self.publisher = publisher
        self.audit = Auditor(publisher, SOURCE)
        self.replica = f"rag-{settings.replica_id}"
        self._work = asyncio.Event()
        self._indexing: dict[str, asyncio.Task[None]] = {}

    # -- collections ---------------------------------------------------------------------

    async def create_collection(self, tenant_id: str, name: str, model: str) -> CollectionRow:
        model = model or LOCAL_MODEL

        async def work() -> CollectionRow:
            limits.collection_name(name)
            limits.embedding_model(model)
            dims = self.local.dimensions if model == LOCAL_MODEL else await self._probe(tenant_id, model)
            return await self.store.create_collection(tenant_id, name, model, dims)

        resource = {"name": name[:100], "model": model[:200]}
        return await self._audited("rag.collection.created", tenant_id, resource, work)

    async def _probe(self, tenant_id: str, model: str) -> int:
        """A remote model's dimensions, from one tiny Embed call (which also proves the tenant
        can use the model before anything is stored)."""
        embedded = await self._call(
            RouterEmbedder(self.router, model, 0).embed(tenant_id, ["dimension probe"])
        )
        dims = embedded.vectors.shape[1]
        if not 0 < dims <= MAX_DIMS:
            raise InvalidArgument(
                f"{model} returns {dims}-dimensional vectors; pgvector indexes at most {MAX_DIMS}"
            )
        return dims

    async def delete_collection(self, tenant_id: str, collection_id: str) -> None:
        await self._audited(
            "rag.collection.deleted",
            tenant_id,
            {"collection_id": collection_id},
            lambda: self.store.delete_collection(tenant_id, collection_id),
        )

    def embedder(self, collection: CollectionRow) -> Embedder:
        if collection.embedding_model == LOCAL_MODEL:
            return self.local
        return RouterEmbedder(self.router, collection.embedding_model, collection.dimensions)

    # -- ingestion -----------------------------------------------------------------------

    async def ingest(
        self,
        tenant_id: str,
        collection_id: str,
        content: bytes,
        content_type: str,
        title: str,
        metadata: Mapping[str, str],
        source_uri: str,
    ) -> Ingested:
        """Store a document and make it searchable. Small ones are extracted, chunked and
        embedded before anything is written (bad content is refused, nothing stored); large
        ones are stored PENDING and processed by the background worker."""
        resource: dict[str, Any] = {"collection_id": collection_id}

        async def work() -> Ingested:
            fields = self._document_fields(content, content_type, title, metadata, source_uri)
            resource["content_hash"] = fields["content_hash"]
            collection = await self.store.get_collection(tenant_id, collection_id)
            existing = await self.store.find_by_hash(collection, fields["content_hash"])
            if existing is not None:
                resource.update(document_id=existing.id, created=False)
                return Ingested(existing, False)
            key = source_uri or (title.strip() or None)
            background = len(content) > self.settings.rag_inline_max_bytes
            prepared = (
                None if background else await self._prepare(collection, content, fields["content_type"])
            )
            claimed_by = None if background else self.replica
            document, created = await self.store.add_document(collection, fields, content, key, claimed_by)
            resource.update(document_id=document.id, created=created)
            if not created:
                return Ingested(document, False)
            if prepared is None:
                self._work.set()
                return Ingested(document, True, job_id=f"job_{document.id}_v{document.version}")
            await self._store(document, collection, *prepared)
            return Ingested(await self.store.get_document(tenant_id, collection_id, document.id), True)

        return await self._audited("rag.document.ingested", tenant_id, resource, work)

    def _document_fields(
        self, content: bytes, content_type: str, title: str, metadata: Mapping[str, str], source_uri: str
    ) -> dict[str, Any]:
        """The document's stored fields, after checking what was sent."""
        content_type = (content_type or "text/plain").strip()[:100]
        kind = content_type.split(";")[0].strip().lower()
        if kind not in SUPPORTED_TYPES:
            raise InvalidArgument(
                f"content_type '{kind[:80]}' is not supported; send one of {', '.join(SUPPORTED_TYPES)}"
            )
        if not content:
            raise InvalidArgument("the document is empty: send its text or content")
        limit = self.settings.rag_max_document_bytes
        if len(content) > limit:
            raise InvalidArgument(f"the document is {len(content)} bytes; the limit is {limit}")
        return {
            "title": limits.title(title) or source_uri[:200] or "untitled",
            "content_type": content_type,
            "metadata": limits.string_map(metadata, "metadata"),
            "source_uri": source_uri[:2000],
            "content_hash": "sha256:" + hashlib.sha256(content).hexdigest(),
            "size_bytes": len(content),
        }

    async def _prepare(
        self, collection: CollectionRow, content: bytes, content_type: str
    ) -> tuple[list[Chunk], Embedded]:
        """Extract, chunk and embed; raises InvalidArgument for content with no usable text."""
        text = await asyncio.to_thread(extract_text, content, content_type)
        pieces = await asyncio.to_thread(
            chunk_text, text, self.tokenize, self.settings.rag_chunk_tokens, self.settings.rag_chunk_overlap
        )
        embedded = await self._call(
            self.embedder(collection).embed(collection.tenant_id, [p.text for p in pieces])
        )
        if embedded.vectors.shape[1:] != (collection.dimensions,):
            raise InvalidArgument(
                f"{collection.embedding_model} returned {embedded.vectors.shape[1:]} dimensions, "
                f"the collection was created with {collection.dimensions}"
            )
        return pieces, embedded

    async def _store(
        self, document: DocumentRow, collection: CollectionRow, pieces: list[Chunk], embedded: Embedded
    ) -> None:
        new = [NewChunk(p.index, p.text, p.tokens, v) for p, v in zip(pieces, embedded.vectors, strict=True)]
        count = await self.store.replace_chunks(document, document.version, new, collection.dimensions)
        if count is None:
            return
        self._record_local_usage(document.tenant_id, self.embedder(collection), embedded)
        if count > self.settings.rag_exact_search_max_chunks:
            self._index_soon(collection)

    def _index_soon(self, collection: CollectionRow) -> None:
        """Give a collection that outgrew exact search its own HNSW index, in the background
        (a build takes seconds to minutes; searches meanwhile use the shared index)."""
        if collection.id in self._indexing:
            return

        async def build() -> None:
            try:
                if await self.store.ensure_collection_index(collection.id, collection.dimensions):
                    log.info("collection %s has its own HNSW index", collection.id)
            except POOL_ERRORS as exc:
                log.error(
                    "HNSW index of collection %s not built (%r); the next ingest retries", collection.id, exc
                )
            finally:
                del self._indexing[collection.id]

        self._indexing[collection.id] = asyncio.create_task(build())

    async def stop_index_builds(self) -> None:
        """On shutdown: a build cut short leaves an invalid index, rebuilt on the next ingest."""
        for task in self._indexing.values():
            task.cancel()
        await asyncio.gather(*self._indexing.values(), return_exceptions=True)

    async def process(self, document: DocumentRow, content: bytes) -> None:
        """The background worker's step for one claimed document; a failure marks it FAILED
        with a reason the tenant can act on (its previous chunks, if any, stay)."""
        try:
            collection = await self.store.get_collection(document.tenant_id, document.collection_id)
            await self._store(
                document, collection, *await self._prepare(collection, content, document.content_type)
            )
        except KeyrelayError as err:
            log.warning("document %s failed: %s", document.id, err.message)
            await self.store.fail(document, document.version, err.message)

    async def run_jobs(self) -> None:
        """The background worker: process waiting documents, one at a time, until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._work.wait(), timeout=5)
            self._work.clear()
            while (claimed := await self.store.claim(self.replica)) is not None:
                await self.process(*claimed)

    async def delete_document(self, tenant_id: str, collection_id: str, document_id: str) -> None:
        await self._audited(
            "rag.document.deleted",
            tenant_id,
            {"collection_id": collection_id, "document_id": document_id},
            lambda: self.store.delete_document(tenant_id, collection_id, document_id),
        )

    async def reindex(self, tenant_id: str, collection_id: str, document_id: str) -> Ingested:
        async def work() -> Ingested:
            document = await self.store.requeue(tenant_id, collection_id, document_id)
            self._work.set()
            return Ingested(document, False, job_id=f"job_{document.id}_v{document.version}")

        resource = {"collection_id": collection_id, "document_id": document_id}
        return await self._audited("rag.document.reindexed", tenant_id, resource, work)

    # -- search and answers --------------------------------------------------------------

    async def search(
        self, tenant_id: str, collection_id: str, query: str, k: int, mode: str, filters: Mapping[str, str]
    ) -> list[Hit]:
        query = limits.query(query)
        filters = limits.string_map(filters, "filters")
        collection = await self.retrieval.collection(tenant_id, collection_id)
        depth = k * HYBRID_DEPTH if mode == "hybrid" else k

        async def by_vector() -> list[Hit]:
            embedded = await self._call(self.embedder(collection).embed(tenant_id, [query], query=True))
            self._record_local_usage(tenant_id, self.embedder(collection), embedded)
            return await self.retrieval.vector(
                tenant_id,
                collection.id,
                collection.dimensions,
                collection.chunk_count,
                embedded.vectors[0],
                depth,
                filters,
            )

        async def by_keyword() -> list[Hit]:
            return await self.retrieval.keyword(tenant_id, collection.id, query, depth, filters)

        if mode == "vector":
            return await by_vector()
        if mode == "keyword":
            return await by_keyword()
        vector_hits, keyword_hits = await asyncio.gather(by_vector(), by_keyword())
        return _fuse(vector_hits, keyword_hits, k)

    async def answer(
        self, tenant_id: str, collection_id: str, question: str, k: int, caller: Caller
    ) -> Answer:
        sources, request = await self._grounded_request(tenant_id, collection_id, question, k, caller)
        reply = await self._call(self.router.Complete(request, metadata=call_metadata()))
        cited = citations(reply.content, sources)
        self._audit_answer(tenant_id, collection_id, cited, reply.route.model)
        return Answer(reply.content, cited, reply)

    async def answer_stream(
        self, tenant_id: str, collection_id: str, question: str, k: int, caller: Caller
    ) -> AsyncIterator[str | Answer]:
        sources, request = await self._grounded_request(tenant_id, collection_id, question, k, caller)
        parts: list[str] = []
        try:
            async for chunk in self.router.CompleteStream(request, metadata=call_metadata()):
                if chunk.HasField("final"):
                    text = "".join(parts)
                    cited = citations(text, sources)
                    self._audit_answer(tenant_id, collection_id, cited, chunk.final.route.model)
                    yield Answer(text, cited, chunk.final)
                else:
                    parts.append(chunk.delta)
                    yield chunk.delta
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc

    async def _grounded_request(
        self, tenant_id: str, collection_id: str, question: str, k: int, caller: Caller
    ) -> tuple[list[Source], router_pb2.CompleteRequest]:
        question = limits.query(question, "question")
        hits = await self.search(tenant_id, collection_id, question, k, "hybrid", caller.filters)
        sources = [Source(n, h.document_id, h.chunk_id, h.title, h.text) for n, h in enumerate(hits, start=1)]
        request = router_pb2.CompleteRequest(
            tenant_id=tenant_id,
            access_key_id=caller.access_key_id,
            access_key_rate_limit=caller.access_key_rate_limit,
            model=caller.model or "auto",
            task_type=common_pb2.TASK_TYPE_RAG,
            messages=[
                router_pb2.ChatMessage(role=r, content=c) for r, c in build_messages(question, sources)
            ],
        )
        return sources, request

    # -- helpers -------------------------------------------------------------------------

    async def _audited(self, action: str, tenant_id: str, resource: dict[str, Any], work: Any) -> Any:
        """Run `work` and record one audit event for it, whatever the outcome (fail closed)."""
        self.audit.ensure_recordable()
        try:
            result = await work()
        except KeyrelayError as err:
            await self.audit.record(action, tenant_id, resource, "error", err.message)
            raise
        await self.audit.record(action, tenant_id, resource)
        return result

    def _audit_answer(self, tenant_id: str, collection_id: str, cited: list[Source], model: str) -> None:
        resource = {
            "collection_id": collection_id,
            "model": model,
            "cited_chunks": [s.chunk_id for s in cited],
        }
        self.audit.record_soon("rag.answered", tenant_id, resource)

    @staticmethod
    async def _call(awaitable: Any) -> Any:
        """Await a router call, turning its gRPC error into ours (it keeps the router's message)."""
        try:
            return await awaitable
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc

    def _record_local_usage(self, tenant_id: str, embedder: Embedder, embedded: Embedded) -> None:
        """Local embeddings cost nothing, but they are usage: the ledger shows them at $0.
        (Remote ones are recorded by the router, which made the call.)"""
        if embedder is not self.local:
            return
        data = {
            "id": new_id("emb"),
            "access_key_id": "",
            "task_type": "embedding",
            "provider": "local",
            "model": LOCAL_MODEL,
            "key_source": "local",
            "prompt_tokens": embedded.tokens,
            "completion_tokens": 0,
            "estimated": False,
            "cost_micros": 0,
            "latency_ms": round(embedded.latency_ms, 3),
            "stream": False,
            "success": True,
            "error_type": "",
            "attempts": 1,
        }
        try:
            self.publisher.submit(usage_event(SOURCE, tenant_id, data, request_id_var.get()))
        except EventNotRecorded:
            log.error("usage of a local embedding could not be recorded (NATS and spool unavailable)")


def _fuse(vector_hits: list[Hit], keyword_hits: list[Hit], k: int) -> list[Hit]:
    by_id = {h.chunk_id: h for h in keyword_hits} | {h.chunk_id: h for h in vector_hits}
    fused = reciprocal_rank_fusion(
        [[h.chunk_id for h in vector_hits], [h.chunk_id for h in keyword_hits]], limit=k
    )
    return [replace(by_id[chunk_id], score=score) for chunk_id, score in fused]
