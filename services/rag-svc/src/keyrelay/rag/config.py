"""rag service settings (env KEYRELAY_*, see keyrelay.common.settings)."""

from __future__ import annotations

from keyrelay.common.settings import KeyrelaySettings


class RagSettings(KeyrelaySettings):
    rag_listen: str = "127.0.0.1:50053"
    rag_db_pool_size: int = 10
    # Chunking, in tokens of the local model's tokenizer (all-MiniLM-L6-v2 reads 256 at most).
    rag_chunk_tokens: int = 200
    rag_chunk_overlap: int = 40
    rag_embed_batch: int = 32
    # Documents larger than this (raw bytes) are processed as background jobs.
    rag_inline_max_bytes: int = 20_000
    rag_max_document_bytes: int = 20_000_000
    # HNSW search breadth, and how many index tuples an iterative scan may visit before it
    # gives up (pgvector's hnsw.ef_search and hnsw.max_scan_tuples).
    rag_hnsw_ef_search: int = 100
    rag_hnsw_max_scan_tuples: int = 50_000
    # Collections up to this many chunks are searched exactly (no index; see docs/decisions.md).
    rag_exact_search_max_chunks: int = 5_000
    # Load the local model at startup (in the background) rather than on first use.
    rag_preload_model: bool = True
