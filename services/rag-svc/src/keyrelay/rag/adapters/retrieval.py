"""The search statements: one round trip each, always scoped to tenant and collection.

Vector search has two shapes, chosen by collection size:
- small collections (up to KEYRELAY_RAG_EXACT_SEARCH_MAX_CHUNKS) order by the untyped
  distance, which no index matches: Postgres reads the collection's chunks through the
  btree on collection_id and sorts them. Exact, and at a few thousand rows faster than a
  graph;
- large collections order by the typed expression the HNSW indexes are built on
  (`embedding::vector(n) <=> query`). A large collection has its own partial HNSW index
  (schema.collection_index_sql, built when it outgrows the exact path), so the graph holds
  its chunks only and the filter costs nothing; the search pool plans every statement with
  its parameters as constants (`plan_cache_mode = force_custom_plan`), which is what lets
  the planner match that index's `collection_id = '...'` predicate. Until the index is
  built, the shared per-dimension index serves, with `hnsw.iterative_scan = strict_order`:
  when the filter drops most of what it returns, pgvector keeps scanning (up to
  `hnsw.max_scan_tuples`) instead of returning fewer rows; that keeps recall for questions
  near the tenant's own chunks, not for questions nearer other tenants' (bench/rag_search.py
  measures all three).

Keyword search matches any of the query's stemmed terms (OR, not the AND of
plainto_tsquery: a question rarely shares all its words with the passage that answers it),
puts chunks holding all of them first (Postgres ranks have no inverse document frequency,
so without this a rare term, a product code, loses to common words repeated), then ranks
with ts_rank_cd.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import asyncpg
import numpy as np

from keyrelay.common.errors import NotFound
from keyrelay.rag.adapters.schema import vector_cast
from keyrelay.rag.adapters.store import CollectionRow, Hit, vector_type

# The title subquery runs for the returned rows only: with a LIMIT, Postgres evaluates an
# expensive select-list item after the sort (or, on the index path, per row kept).
_COLUMNS = (
    "c.id, c.document_id, c.chunk_index, c.text, c.metadata, "
    "(SELECT d.title FROM rag_documents d WHERE d.id = c.document_id AND d.tenant_id = c.tenant_id) AS title"
)
_SCOPE = "c.tenant_id = $2 AND c.collection_id = $3 AND c.metadata @> $4::jsonb"


def vector_sql(dimensions: int, exact: bool) -> str:
    """The vector query; $1 query embedding, $2 tenant, $3 collection, $4 filters, $5 k."""
    if exact:
        distance = "c.embedding <=> $1::vector"
    else:
        distance = f"c.{vector_cast(dimensions)[1:-1]} <=> $1::{vector_type(dimensions)}"
    return (
        f"SELECT {_COLUMNS}, {distance} AS distance FROM rag_chunks c "
        f"WHERE {_SCOPE} AND c.dimensions = {int(dimensions)} ORDER BY {distance} LIMIT $5"
    )


KEYWORD_SQL = f"""
WITH q AS (
  SELECT to_tsquery('simple', coalesce(string_agg(quote_literal(lexeme), ' | '), '')) AS any_term,
         plainto_tsquery('english', $1) AS all_terms
  FROM unnest(to_tsvector('english', $1))
)
SELECT {_COLUMNS}, ts_rank_cd(c.tsv, q.any_term) AS rank, c.tsv @@ q.all_terms AS has_all
FROM rag_chunks c, q
WHERE {_SCOPE} AND c.tsv @@ q.any_term
ORDER BY has_all DESC, rank DESC, c.id
LIMIT $5
"""


def _filters(filters: Mapping[str, str]) -> str:
    return json.dumps(dict(filters), sort_keys=True)


def _hit(row: asyncpg.Record, score: float) -> Hit:
    return Hit(
        chunk_id=row["id"],
        document_id=row["document_id"],
        chunk_index=row["chunk_index"],
        text=row["text"],
        metadata=json.loads(row["metadata"]),
        score=score,
        title=row["title"] or "",
    )


COLLECTION_SQL = (
    "SELECT id, tenant_id, name, embedding_model, dimensions, chunk_count, created_at "
    "FROM rag_collections WHERE tenant_id = $1 AND id = $2"
)


class Retrieval:
    def __init__(self, pool: asyncpg.Pool, exact_max_chunks: int) -> None:
        self.pool = pool
        self.exact_max_chunks = exact_max_chunks

    async def collection(self, tenant_id: str, collection_id: str) -> CollectionRow:
        """The collection a search runs in: one indexed lookup on the search pool."""
        row = await self.pool.fetchrow(COLLECTION_SQL, tenant_id, collection_id)
        if row is None:
            raise NotFound(f"collection '{collection_id}' not found; ListCollections shows yours")
        return CollectionRow(**row)

    async def vector(
        self,
        tenant_id: str,
        collection_id: str,
        dimensions: int,
        chunk_count: int,
        query: np.ndarray,
        k: int,
        filters: Mapping[str, str],
    ) -> list[Hit]:
        """Nearest chunks by cosine; score is the cosine similarity (1 - distance)."""
        sql = vector_sql(dimensions, exact=chunk_count <= self.exact_max_chunks)
        rows = await self.pool.fetch(sql, query, tenant_id, collection_id, _filters(filters), k)
        return [_hit(row, 1.0 - float(row["distance"])) for row in rows]

    async def keyword(
        self, tenant_id: str, collection_id: str, query: str, k: int, filters: Mapping[str, str]
    ) -> list[Hit]:
        rows = await self.pool.fetch(KEYWORD_SQL, query, tenant_id, collection_id, _filters(filters), k)
        return [_hit(row, float(row["rank"])) for row in rows]
