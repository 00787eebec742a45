"""rag-svc's Postgres state: collections, documents (with their raw content, for re-indexing
and background jobs) and chunks (text, full-text vector, embedding).

Every statement names the tenant. Management statements go through SQLAlchemy Core; the
search statements and the bulk chunk write use the asyncpg pool directly (one round trip
per search, COPY for chunks).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from keyrelay.common.errors import AlreadyExists, NotFound
from keyrelay.rag.adapters.schema import (
    MAX_VECTOR_DIMS,
    chunks,
    collection_index_name,
    collection_index_sql,
    collections,
    documents,
    vector_index_sql,
)

PENDING, PROCESSING, READY, FAILED = "pending", "processing", "ready", "failed"
# A background job whose replica has said nothing for this long is taken over by another.
STALE_CLAIM = timedelta(minutes=5)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def now() -> datetime:
    return datetime.now(UTC)


def vector_type(dimensions: int) -> str:
    kind = "vector" if dimensions <= MAX_VECTOR_DIMS else "halfvec"
    return f"{kind}({int(dimensions)})"


@dataclass(frozen=True)
class CollectionRow:
    id: str
    tenant_id: str
    name: str
    embedding_model: str
    dimensions: int
    chunk_count: int
    created_at: datetime
    document_count: int = 0


@dataclass(frozen=True)
class DocumentRow:
    id: str
    tenant_id: str
    collection_id: str
    title: str
    content_type: str
    metadata: dict[str, str]
    source_uri: str
    content_hash: str
    size_bytes: int
    status: str
    chunks: int
    error: str
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewChunk:
    index: int
    text: str
    tokens: int
    embedding: np.ndarray


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    document_id: str
    chunk_index: int
    text: str
    metadata: dict[str, str]
    score: float
    title: str = ""


# rag_chunks columns in the order chunk records are COPYed.
CHUNK_COPY_COLUMNS = [
    "id",
    "tenant_id",
    "collection_id",
    "document_id",
    "chunk_index",
    "text",
    "metadata",
    "tokens",
    "dimensions",
    "embedding",
]
_DOC_COLUMNS = [c for c in documents.c if c.name not in ("content", "source_key", "claimed_by", "claimed_at")]


def _document(row: Any) -> DocumentRow:
    return DocumentRow(**{c.name: row._mapping[c.name] for c in _DOC_COLUMNS})


class RagStore:
    def __init__(self, engine: AsyncEngine, pool: asyncpg.Pool) -> None:
        self.engine = engine
        self.pool = pool

    # -- collections ---------------------------------------------------------------------

    async def create_collection(
        self, tenant_id: str, name: str, model: str, dimensions: int
    ) -> CollectionRow:
        row = {
            "id": new_id("col"),
            "tenant_id": tenant_id,
            "name": name,
            "embedding_model": model,
            "dimensions": dimensions,
            "chunk_count": 0,
            "created_at": now(),
        }
        await self.ensure_vector_index(dimensions)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(collections.insert().values(**row))
        except IntegrityError as exc:
            raise AlreadyExists(
                f"a collection named '{name}' already exists for this tenant; choose another name"
            ) from exc
        return CollectionRow(**row)

    async def ensure_vector_index(self, dimensions: int) -> None:
        """The partial HNSW index for this size, built without blocking writes if missing."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                vector_index_sql(dimensions).replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY")
            )

    async def ensure_collection_index(self, collection_id: str, dimensions: int) -> bool:
        """The collection's own HNSW index (see schema.collection_index_sql); True when this
        call built it. One builder at a time across replicas (an advisory lock on the index
        name, released before the connection goes back to the pool), so an invalid index
        seen here is a build that was interrupted, not one in progress: it is rebuilt."""
        name = collection_index_name(collection_id)
        async with self.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", name):
                return False  # another replica is building it
            try:
                valid = await conn.fetchval(
                    "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                    "WHERE c.relname = $1",
                    name,
                )
                if valid:
                    return False
                if valid is not None:
                    await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
                await conn.execute(collection_index_sql(collection_id, dimensions))
                return True
            finally:
                await conn.fetchval("SELECT pg_advisory_unlock(hashtext($1))", name)

    async def list_collections(self, tenant_id: str, limit: int, offset: int) -> list[CollectionRow]:
        counts = (
            select(func.count())
            .where(documents.c.collection_id == collections.c.id)
            .scalar_subquery()
            .label("document_count")
        )
        query = (
            select(collections, counts)
            .where(collections.c.tenant_id == tenant_id)
            .order_by(collections.c.created_at, collections.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [CollectionRow(**row._mapping) for row in rows]

    async def get_collection(self, tenant_id: str, collection_id: str) -> CollectionRow:
        counts = select(func.count()).where(documents.c.collection_id == collection_id).scalar_subquery()
        query = select(collections, counts.label("document_count")).where(
            collections.c.tenant_id == tenant_id, collections.c.id == collection_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"collection '{collection_id}' not found; ListCollections shows yours")
        return CollectionRow(**row._mapping)

    async def delete_collection(self, tenant_id: str, collection_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(chunks).where(chunks.c.tenant_id == tenant_id, chunks.c.collection_id == collection_id)
            )
            result = await conn.execute(
                delete(collections).where(
                    collections.c.tenant_id == tenant_id, collections.c.id == collection_id
                )
            )
            if result.rowcount == 0:
                raise NotFound(f"collection '{collection_id}' not found; ListCollections shows yours")
        async with self.pool.acquire() as conn:  # its own index, if it had grown one
            await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {collection_index_name(collection_id)}")

    # -- documents -----------------------------------------------------------------------

    async def find_by_hash(self, collection: CollectionRow, content_hash: str) -> DocumentRow | None:
        query = select(*_DOC_COLUMNS).where(
            documents.c.tenant_id == collection.tenant_id,
            documents.c.collection_id == collection.id,
            documents.c.content_hash == content_hash,
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _document(row)

    async def add_document(
        self,
        collection: CollectionRow,
        fields: dict[str, Any],
        content: bytes,
        source_key: str | None,
        claimed_by: str | None = None,
    ) -> tuple[DocumentRow, bool]:
        """`_add_document`, tried again once when a concurrent ingest of the same content or
        source won the race for a unique constraint (the second try then finds its row)."""
        args = (collection, fields, content, source_key, claimed_by)
        try:
            return await self._add_document(*args)
        except IntegrityError:
            return await self._add_document(*args)

    async def _add_document(
        self,
        collection: CollectionRow,
        fields: dict[str, Any],
        content: bytes,
        source_key: str | None,
        claimed_by: str | None,
    ) -> tuple[DocumentRow, bool]:
        """Store a document, or return the one already there: (document, created).

        The same content hash in the collection is a no-op (created False). The same
        source_key (source_uri, else title) with other content becomes a new version of that
        document: same id, content replaced (its old chunks stay searchable until the new
        ones replace them). The document is PENDING for the background worker, or, with
        `claimed_by`, PROCESSING by that replica, which stores its chunks next."""
        tenant = collection.tenant_id
        status = PENDING if claimed_by is None else PROCESSING
        claimed_at = None if claimed_by is None else now()
        async with self.engine.begin() as conn:
            same = (
                await conn.execute(
                    select(documents).where(
                        documents.c.tenant_id == tenant,
                        documents.c.collection_id == collection.id,
                        documents.c.content_hash == fields["content_hash"],
                    )
                )
            ).first()
            if same is not None:
                return _document(same), False
            stamp = now()
            values = {**fields, "content": content, "status": status, "error": "", "updated_at": stamp}
            values |= {"claimed_by": claimed_by, "claimed_at": claimed_at}
            if source_key is not None:
                replaced = (
                    await conn.execute(
                        update(documents)
                        .where(
                            documents.c.tenant_id == tenant,
                            documents.c.collection_id == collection.id,
                            documents.c.source_key == source_key,
                        )
                        .values(**values, version=documents.c.version + 1)
                        .returning(*_DOC_COLUMNS)
                    )
                ).first()
                if replaced is not None:
                    return _document(replaced), True
            row = (
                await conn.execute(
                    documents.insert()
                    .values(
                        id=new_id("doc"),
                        tenant_id=tenant,
                        collection_id=collection.id,
                        source_key=source_key,
                        created_at=stamp,
                        **values,
                    )
                    .returning(*_DOC_COLUMNS)
                )
            ).first()
        return _document(row), True

    async def get_document(self, tenant_id: str, collection_id: str, document_id: str) -> DocumentRow:
        query = select(*_DOC_COLUMNS).where(
            documents.c.tenant_id == tenant_id,
            documents.c.collection_id == collection_id,
            documents.c.id == document_id,
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"document '{document_id}' not found in collection '{collection_id}'")
        return _document(row)

    async def list_documents(
        self, tenant_id: str, collection_id: str, limit: int, offset: int
    ) -> list[DocumentRow]:
        query = (
            select(*_DOC_COLUMNS)
            .where(documents.c.tenant_id == tenant_id, documents.c.collection_id == collection_id)
            .order_by(documents.c.created_at, documents.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with self.engine.connect() as conn:
            return [_document(row) for row in (await conn.execute(query)).all()]

    async def delete_document(self, tenant_id: str, collection_id: str, document_id: str) -> None:
        async with self.engine.begin() as conn:
            removed = (
                await conn.execute(
                    delete(chunks).where(chunks.c.tenant_id == tenant_id, chunks.c.document_id == document_id)
                )
            ).rowcount
            result = await conn.execute(
                delete(documents).where(
                    documents.c.tenant_id == tenant_id,
                    documents.c.collection_id == collection_id,
                    documents.c.id == document_id,
                )
            )
            if result.rowcount == 0:
                raise NotFound(f"document '{document_id}' not found in collection '{collection_id}'")
            await conn.execute(
                update(collections)
                .where(collections.c.id == collection_id)
                .values(chunk_count=collections.c.chunk_count - removed)
            )

    async def requeue(self, tenant_id: str, collection_id: str, document_id: str) -> DocumentRow:
        """Mark a document for re-chunking and re-embedding from its stored content."""
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(documents)
                    .where(
                        documents.c.tenant_id == tenant_id,
                        documents.c.collection_id == collection_id,
                        documents.c.id == document_id,
                    )
                    .values(status=PENDING, error="", updated_at=now(), claimed_by=None, claimed_at=None)
                    .returning(*_DOC_COLUMNS)
                )
            ).first()
        if row is None:
            raise NotFound(f"document '{document_id}' not found in collection '{collection_id}'")
        return _document(row)

    # -- processing ----------------------------------------------------------------------

    async def claim(self, replica: str) -> tuple[DocumentRow, bytes] | None:
        """Take one PENDING document (or a stale PROCESSING one) for processing. Safe across
        replicas: the row is locked with SKIP LOCKED, so two workers never take the same one."""
        stale = now() - STALE_CLAIM
        waiting = and_(
            documents.c.status.in_((PENDING, PROCESSING)),
            (documents.c.status == PENDING) | (documents.c.claimed_at < stale),
        )
        pick = (
            select(documents.c.id)
            .where(waiting)
            .order_by(documents.c.updated_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(documents)
                    .where(documents.c.id == pick)
                    .values(status=PROCESSING, claimed_by=replica, claimed_at=now())
                    .returning(*_DOC_COLUMNS, documents.c.content)
                )
            ).first()
        return None if row is None else (_document(row), row.content)

    async def replace_chunks(
        self, document: DocumentRow, version: int, new: Sequence[NewChunk], dims: int
    ) -> int | None:
        """Swap the document's chunks for `new` and mark it READY, in one transaction; returns
        the collection's chunk count after, or None (nothing written) when the document was
        deleted or changed again meanwhile."""
        records = [
            (
                new_id("chk"),
                document.tenant_id,
                document.collection_id,
                document.id,
                c.index,
                c.text,
                json.dumps(document.metadata),
                c.tokens,
                dims,
                c.embedding,
            )
            for c in new
        ]
        async with self.pool.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(
                "SELECT version, status FROM rag_documents WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
                document.id,
                document.tenant_id,
            )
            if current is None or current["version"] != version or current["status"] != PROCESSING:
                return None
            removed = await conn.fetchval(
                "WITH gone AS (DELETE FROM rag_chunks WHERE document_id = $1 RETURNING 1) "
                "SELECT count(*) FROM gone",
                document.id,
            )
            await conn.copy_records_to_table(
                "rag_chunks",
                records=records,
                columns=CHUNK_COPY_COLUMNS,
            )
            await conn.execute(
                "UPDATE rag_documents SET status = $2, chunks = $3, error = '', updated_at = now(), "
                "claimed_by = NULL, claimed_at = NULL WHERE id = $1",
                document.id,
                READY,
                len(records),
            )
            return await conn.fetchval(  # type: ignore[no-any-return]
                "UPDATE rag_collections SET chunk_count = chunk_count - $2 + $3 WHERE id = $1 "
                "RETURNING chunk_count",
                document.collection_id,
                removed,
                len(records),
            )

    async def fail(self, document: DocumentRow, version: int, error: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(documents)
                .where(documents.c.id == document.id, documents.c.version == version)
                .values(status=FAILED, error=error[:500], updated_at=now(), claimed_by=None, claimed_at=None)
            )

    async def pending_ids(self) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(documents.c.id).where(documents.c.status == PENDING))
            return [r.id for r in rows]
