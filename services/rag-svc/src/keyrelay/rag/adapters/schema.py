"""rag-svc's tables (SQLAlchemy 2 Core) and the migration entry point.

Every row carries `tenant_id`, and every query the store makes filters on it. Chunks keep
their embedding in an untyped `vector` column plus the `dimensions` it has, so collections
with different embedding models share one table; each dimension count gets its own partial
HNSW index over `embedding::vector(n)` (pgvector's recommended layout for mixed dimensions),
created when the first collection of that size appears (see `vector_index_sql`). A
collection that outgrows exact search gets its own partial HNSW index as well
(`collection_index_sql`).
"""

from __future__ import annotations

import re

from alembic import command
from alembic.config import Config
from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

VERSION_TABLE = "rag_alembic_version"
MIGRATIONS = "keyrelay.rag:migrations"
# Two replicas starting together must not both migrate: they take this lock first.
_MIGRATION_LOCK = 7_341_002
# pgvector indexes `vector` up to 2,000 dimensions and `halfvec` up to 4,000.
MAX_VECTOR_DIMS = 2_000
MAX_DIMS = 4_000

metadata = MetaData()

collections = Table(
    "rag_collections",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(63), nullable=False),
    Column("name", String(100), nullable=False),
    Column("embedding_model", String(200), nullable=False),
    Column("dimensions", Integer, nullable=False),
    Column("chunk_count", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "name", name="rag_collections_tenant_name_key"),
)

documents = Table(
    "rag_documents",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(63), nullable=False),
    Column("collection_id", String(40), ForeignKey("rag_collections.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(500), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("metadata", JSONB, nullable=False),
    Column("source_uri", String(2000), nullable=False),
    # What identifies "the same document" when its content changes: source_uri, else title.
    Column("source_key", String(2000)),
    Column("content_hash", String(80), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),  # kept for re-indexing
    Column("status", String(16), nullable=False),
    Column("chunks", Integer, nullable=False, server_default="0"),
    Column("error", Text, nullable=False, server_default=""),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Background processing: which replica holds the job since when (stale claims are retaken).
    Column("claimed_by", String(100)),
    Column("claimed_at", DateTime(timezone=True)),
    UniqueConstraint("collection_id", "content_hash", name="rag_documents_collection_hash_key"),
    UniqueConstraint("collection_id", "source_key", name="rag_documents_collection_source_key"),
    Index("rag_documents_tenant_collection_idx", "tenant_id", "collection_id", "created_at"),
    Index(
        "rag_documents_jobs_idx",
        "updated_at",
        postgresql_where=text("status IN ('pending', 'processing')"),
    ),
)

chunks = Table(
    "rag_chunks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(63), nullable=False),
    Column("collection_id", String(40), nullable=False),
    Column("document_id", String(40), ForeignKey("rag_documents.id", ondelete="CASCADE"), nullable=False),
    Column("chunk_index", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("metadata", JSONB, nullable=False),  # the document's, copied so filters need no join
    Column("tokens", Integer, nullable=False),
    Column("dimensions", Integer, nullable=False),
    Column("embedding", Vector(), nullable=False),
    Column("tsv", TSVECTOR, Computed("to_tsvector('english', text)", persisted=True), nullable=False),
    Index("rag_chunks_collection_idx", "collection_id"),
    Index("rag_chunks_document_idx", "document_id"),
    Index("rag_chunks_tsv_idx", "tsv", postgresql_using="gin"),
)


def vector_cast(dimensions: int) -> str:
    """The typed expression the HNSW index of this size is built on (and queries order by)."""
    kind = "vector" if dimensions <= MAX_VECTOR_DIMS else "halfvec"
    return f"(embedding::{kind}({int(dimensions)}))"


def vector_index_sql(dimensions: int) -> str:
    """The partial HNSW index (cosine) for chunks of one dimension count."""
    ops = "vector_cosine_ops" if dimensions <= MAX_VECTOR_DIMS else "halfvec_cosine_ops"
    return (
        f"CREATE INDEX IF NOT EXISTS rag_chunks_embedding_{int(dimensions)}_hnsw ON rag_chunks "
        f"USING hnsw ({vector_cast(dimensions)} {ops}) WHERE dimensions = {int(dimensions)}"
    )


_COLLECTION_ID = re.compile(r"col_[0-9a-f]{24}")


def collection_index_name(collection_id: str) -> str:
    if not _COLLECTION_ID.fullmatch(collection_id):  # it is spliced into DDL: only our own ids
        raise ValueError(f"not a collection id: {collection_id!r}")
    return f"rag_chunks_{collection_id}_hnsw"


def collection_index_sql(collection_id: str, dimensions: int) -> str:
    """A large collection's own HNSW index: partial on its id, so a search in it walks a graph
    of its chunks only and the tenant filter costs no recall. Built without blocking writes."""
    ops = "vector_cosine_ops" if dimensions <= MAX_VECTOR_DIMS else "halfvec_cosine_ops"
    return (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {collection_index_name(collection_id)} ON rag_chunks "
        f"USING hnsw ({vector_cast(dimensions)} {ops}) WHERE collection_id = '{collection_id}'"
    )


def _upgrade(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent; safe with several replicas)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
