"""The index DDL rag-svc writes: built from our own ids only, over the expression searches use."""

from __future__ import annotations

import pytest

from keyrelay.rag.adapters.retrieval import vector_sql
from keyrelay.rag.adapters.schema import collection_index_name, collection_index_sql, vector_cast


def test_a_collections_index_is_partial_on_its_id_over_the_search_expression() -> None:
    sql = collection_index_sql("col_0123456789abcdef01234567", 384)
    assert sql.startswith(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS rag_chunks_col_0123456789abcdef01234567_hnsw"
    )
    assert "WHERE collection_id = 'col_0123456789abcdef01234567'" in sql
    assert f"USING hnsw ({vector_cast(384)} vector_cosine_ops)" in sql
    # The search orders by the same expression, so the planner can use this index.
    assert vector_cast(384)[1:-1] in vector_sql(384, exact=False)
    assert "halfvec_cosine_ops" in collection_index_sql("col_0123456789abcdef01234567", 3072)


@pytest.mark.parametrize(
    "bad",
    ["col_x'; DROP TABLE rag_chunks; --", "col_0123456789ABCDEF01234567", "doc_0123456789abcdef01234567", ""],
)
def test_only_collection_ids_reach_the_ddl(bad: str) -> None:
    with pytest.raises(ValueError, match="not a collection id"):
        collection_index_name(bad)
    with pytest.raises(ValueError):
        collection_index_sql(bad, 384)
