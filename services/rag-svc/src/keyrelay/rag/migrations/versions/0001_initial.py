"""Collections, documents and chunks, with full-text and HNSW (384 dims) indexes.

Written out in full (not imported from schema.py), so that later changes to the tables
arrive as new revisions and this one stays what it was.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "rag_collections",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("embedding_model", sa.String(200), nullable=False),
        sa.Column("dimensions", sa.Integer, nullable=False),
        sa.Column("chunk_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="rag_collections_tenant_name_key"),
    )
    op.create_table(
        "rag_documents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column(
            "collection_id",
            sa.String(40),
            sa.ForeignKey("rag_collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("metadata", JSONB, nullable=False),
        sa.Column("source_uri", sa.String(2000), nullable=False),
        sa.Column("source_key", sa.String(2000)),
        sa.Column("content_hash", sa.String(80), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("claimed_by", sa.String(100)),
        sa.Column("claimed_at", TS),
        sa.UniqueConstraint("collection_id", "content_hash", name="rag_documents_collection_hash_key"),
        sa.UniqueConstraint("collection_id", "source_key", name="rag_documents_collection_source_key"),
    )
    op.create_index(
        "rag_documents_tenant_collection_idx", "rag_documents", ["tenant_id", "collection_id", "created_at"]
    )
    op.create_index(
        "rag_documents_jobs_idx",
        "rag_documents",
        ["updated_at"],
        postgresql_where=sa.text("status IN ('pending', 'processing')"),
    )
    op.create_table(
        "rag_chunks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("collection_id", sa.String(40), nullable=False),
        sa.Column(
            "document_id",
            sa.String(40),
            sa.ForeignKey("rag_documents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("chunk_index", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("metadata", JSONB, nullable=False),
        sa.Column("tokens", sa.Integer, nullable=False),
        sa.Column("dimensions", sa.Integer, nullable=False),
        sa.Column("embedding", Vector(), nullable=False),
        sa.Column(
            "tsv", TSVECTOR, sa.Computed("to_tsvector('english', text)", persisted=True), nullable=False
        ),
    )
    op.create_index("rag_chunks_collection_idx", "rag_chunks", ["collection_id"])
    op.create_index("rag_chunks_document_idx", "rag_chunks", ["document_id"])
    op.create_index("rag_chunks_tsv_idx", "rag_chunks", ["tsv"], postgresql_using="gin")
    # The local model's index; other sizes are created with their first collection.
    op.execute(
        "CREATE INDEX rag_chunks_embedding_384_hnsw ON rag_chunks "
        "USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dimensions = 384"
    )


def downgrade() -> None:
    op.drop_table("rag_chunks")
    op.drop_table("rag_documents")
    op.drop_table("rag_collections")
