"""rag-svc at 100k chunks: recall of the tenant-filtered HNSW search, hybrid latency, ingestion.

    .venv/bin/python bench/rag_search.py [--tenants 100] [--chunks-per-tenant 1000]
        [--queries 100] [--calls 200] [--ingest-docs 20] [--ingest-words 2500]
        [--ingest-concurrency 4] [--quick] [--prepare-only]

SPEC §10: hybrid top-10 over 100k chunks p95 <= 50 ms including the query embedding;
recall@10 of the filtered HNSW search >= 0.95 against exact search for a tenant holding 1%
of rows. Ingestion throughput with the local model has no target; it is reported.

Corpus. 100 tenants x 1 collection x 1,000 chunks (each tenant 1% of rows). Passages are
synthetic, deterministic from a fixed seed: 20-60 words of whole sentences from templates,
filled with the tenant's domain vocabulary (20 domains, so 5 tenants share each and their
chunks are each other's neighbours: the filter has work to do), the tenant's company,
project names and product codes (`FGN-1209A`), a favoured subset of the domain's nouns and
shared business words. Embeddings come from the real local model (all-MiniLM-L6-v2 loaded
as rag-svc's LocalEmbedder loads it, normalised, float32). Embedding 100k passages takes
about 10-25 minutes on this 2-core machine (70-160 chunks/s, as busy as it is), so the vectors are cached in
`.bench/rag-corpus-<hash>.npy`, the hash over the model id and every passage's text: any
change to the generator or the flags makes a new file. --prepare-only builds the cache and
stops.

Loading. The real stack (RunningStack: OpenBao, NATS, Postgres 18 + pgvector 0.8, all
services) in a temporary data dir. Every tenant's collection is created with CreateCollection
and its first passage ingested with IngestDocument (gRPC, mTLS, as portal-api calls it), so
collection and document rows are the service's own; the other 999 passages per tenant are
COPYed into rag_chunks under that document (the migration's columns, pgvector's asyncpg
codec, token counts from the model's tokenizer), with rag_documents.chunks and
rag_collections.chunk_count updated to match. The HNSW index is dropped for the COPY and
created again with the migration's statement (`vector_index_sql(384)`; m and ef_construction
are pgvector's defaults) and maintenance_work_mem = 1GB, so the graph is built in memory;
its build time is printed. Then VACUUM (ANALYZE), as autovacuum would leave the table.

Recall (SQL). Two sets of --queries questions, each question for one tenant in turn,
embedded by the model here: on-topic ones in the tenant's own vocabulary (e.g. "what
happens if the review shows FGN-7892A?"; its nearest chunks in the whole table are mostly
its own) and off-topic ones written with the next tenant's vocabulary, in another domain,
but searched in this tenant's collection (its nearest chunks are other tenants': the hard
case for a filtered index scan, and a common one: questions a tenant's documents do not
answer well). They run on a pool made by rag-svc's own `create_search_pool`
(hnsw.ef_search 100, hnsw.iterative_scan strict_order, hnsw.max_scan_tuples 50,000) with
rag-svc's own statement, `vector_sql(384, exact=False)`. Ground truth is
`vector_sql(384, exact=True)` (orders by the untyped distance, which no index serves:
exact), itself checked against a NumPy brute force over the collection's stored vectors.
Recall@k counts a returned row at the k-th exact distance as found (ties). Variants: the
statement as the service issues it (the planner chooses: for a 1% tenant it prefers the
collection btree and a sort, which is exact) at k = 10 and at k = 40 (what hybrid asks of
the vector side: 4 x top_k); the HNSW index forced (`enable_sort = off` for the statement:
the index is then the only way to produce the order; EXPLAIN ANALYZE shows it, with the
rows the filter removed) at k = 10 and 40; forced with `hnsw.iterative_scan = off`, to show
what the tenant filter costs without iterative scans; forced with hnsw.ef_search 400 and
1000. Each variant has its own statement text, so no variant reuses a plan that asyncpg's
prepared statement and Postgres' plan cache kept from another variant's settings.

Search (gRPC). Sequential Search calls (concurrency 1, top_k 10; 20 warm-up calls, then
--calls hybrid and half as many vector-only and keyword-only), query text in the request,
so the query embedding inside rag-svc is included; latency is measured at the client and
includes mTLS gRPC. Three rag-svc replicas on the same stack: the stack's own (default
config: collections up to KEYRELAY_RAG_EXACT_SEARCH_MAX_CHUNKS = 5,000 chunks are searched
exactly), one with KEYRELAY_RAG_EXACT_SEARCH_MAX_CHUNKS=0 (the HNSW-shaped statement,
planner's choice), and one with that setting and connected as a Postgres role whose
sessions run with enable_sort = off, so the HNSW index is walked for every vector search.
Which indexes each replica used is read from pg_stat_user_indexes around its calls.

Own indexes. rag-svc gives a collection that outgrows exact search its own partial HNSW
index (schema.collection_index_sql). After the measurements above, every collection gets
one (the service's own statement, built CONCURRENTLY one after another; time and size are
printed), and the recall variants and the HNSW-walking replica's searches run again: the
forced-HNSW rows then show the recall a large collection gets.

Ingestion. --ingest-docs documents of about --ingest-words words (kept under
KEYRELAY_RAG_INLINE_MAX_BYTES, so each is processed inline and the reply carries its chunk
count) through IngestDocument into a fresh collection, sequentially and then at
--ingest-concurrency into another: chunks/s = chunks in the replies / wall time. For
reference, the model alone in this process on the same chunk texts (batch 32, as rag-svc).

Everything shares the machine's cores: the client, three rag-svc replicas (idle ones cost
nothing), Postgres and the rest of the stack. --quick: 10 tenants (10% of rows each), 20
queries, 50 calls, 4 documents, for a fast check of the script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import uvloop
from pgvector.asyncpg import register_vector

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.rag_corpus import (  # noqa: E402
    DIMS,
    DOMAINS,
    Tenant,
    corpus_embeddings,
    corpus_texts,
    encode,
    ingest_document,
    load_model,
    make_tenants,
    query_text,
)
from bench.stats import percentiles  # noqa: E402
from keyrelay.common.rpc import secure_channel  # noqa: E402
from keyrelay.rag.adapters.embedders import load_tokenizer  # noqa: E402
from keyrelay.rag.adapters.retrieval import vector_sql  # noqa: E402
from keyrelay.rag.adapters.schema import collection_index_sql, vector_index_sql  # noqa: E402
from keyrelay.rag.adapters.store import CHUNK_COPY_COLUMNS, new_id  # noqa: E402
from keyrelay.rag.config import RagSettings  # noqa: E402
from keyrelay.rag.main import create_search_pool  # noqa: E402
from keyrelay.v1 import rag_pb2, rag_pb2_grpc  # noqa: E402
from tests.e2e.harness import RunningStack  # noqa: E402

# -- measuring --------------------------------------------------------------------------------


def recall(approx: list[tuple[str, float]], exact: list[tuple[str, float]], k: int) -> float:
    """Share of the exact top k the approximate top k found; a row at the k-th exact
    distance (a tie) counts as found even with another id."""
    truth = exact[:k]
    if not truth:
        return 1.0
    ids, kth = {i for i, _ in truth}, truth[-1][1]
    return sum(1 for i, d in approx[:k] if i in ids or d <= kth + 1e-6) / len(truth)


@dataclass
class Loaded:
    """The bulk-loaded corpus: each tenant's collection id."""

    collections: dict[str, str]
    seconds: dict[str, float]


class Rag:
    """rag-svc over gRPC with mTLS, as portal-api calls it."""

    def __init__(self, address: str, tls_dir: Path) -> None:
        self.channel = secure_channel(address, tls_dir, "portal")
        self.stub = rag_pb2_grpc.RagStub(self.channel)

    async def __call__(self, rpc: str, request: Any) -> Any:
        metadata = (("x-keyrelay-tenant", request.tenant_id),)
        return await getattr(self.stub, rpc)(request, metadata=metadata, timeout=300)

    async def close(self) -> None:
        await self.channel.close()


METADATA = {"kind": "handbook"}


async def load_corpus(
    rag: Rag, conn: asyncpg.Connection, tenants: list[Tenant], texts: list[list[str]], vectors: np.ndarray
) -> Loaded:
    """Each tenant: CreateCollection and IngestDocument (its first passage) through rag-svc,
    then its other passages COPYed into rag_chunks under that document, the counters
    updated; the HNSW index is dropped for the COPY and built again after it."""
    seconds: dict[str, float] = {}
    collections: dict[str, str] = {}
    documents: dict[str, str] = {}
    gate = asyncio.Semaphore(4)

    async def create(tenant: Tenant) -> None:
        async with gate:
            created = await rag(
                "CreateCollection",
                rag_pb2.CreateCollectionRequest(tenant_id=tenant.tenant_id, name="handbook"),
            )
            collections[tenant.tenant_id] = created.collection.collection_id

    async def seed(tenant: Tenant) -> None:
        async with gate:
            ingested = await rag(
                "IngestDocument",
                rag_pb2.IngestDocumentRequest(
                    tenant_id=tenant.tenant_id,
                    collection_id=collections[tenant.tenant_id],
                    text=texts[tenant.index][0],
                    title=f"{tenant.company} handbook",
                    metadata=METADATA,
                ),
            )
            assert ingested.status == rag_pb2.DOCUMENT_STATUS_READY and ingested.chunks == 1, ingested
            documents[tenant.tenant_id] = ingested.document_id

    for label, step in (
        (f"CreateCollection x {len(tenants)} (gRPC, 4 at a time)", create),
        (f"IngestDocument x {len(tenants)}, 1 chunk each (gRPC)", seed),
    ):
        started = time.perf_counter()
        await asyncio.gather(*(step(t) for t in tenants))
        seconds[label] = time.perf_counter() - started

    tokenizer = load_tokenizer()
    per_tenant = len(texts[0])
    started = time.perf_counter()
    await conn.execute("DROP INDEX rag_chunks_embedding_384_hnsw")
    for tenant in tenants:
        rest = texts[tenant.index][1:]
        counts = [len(e.ids) for e in tokenizer.encode_batch(rest, add_special_tokens=False)]
        base = tenant.index * per_tenant
        records = [
            (
                new_id("chk"),
                tenant.tenant_id,
                collections[tenant.tenant_id],
                documents[tenant.tenant_id],
                i + 1,
                text,
                json.dumps(METADATA),
                counts[i],
                DIMS,
                vectors[base + i + 1],
            )
            for i, text in enumerate(rest)
        ]
        async with conn.transaction():
            await conn.copy_records_to_table("rag_chunks", records=records, columns=CHUNK_COPY_COLUMNS)
            await conn.execute(
                "UPDATE rag_documents SET chunks = chunks + $2 WHERE id = $1",
                documents[tenant.tenant_id],
                len(records),
            )
            await conn.execute(
                "UPDATE rag_collections SET chunk_count = chunk_count + $2 WHERE id = $1",
                collections[tenant.tenant_id],
                len(records),
            )
    seconds["COPY into rag_chunks (HNSW index dropped)"] = time.perf_counter() - started

    started = time.perf_counter()
    # The migration's own statement; enough memory for the graph to be built in RAM.
    await conn.execute("SET maintenance_work_mem = '1GB'")
    await conn.execute(vector_index_sql(DIMS))
    await conn.execute("RESET maintenance_work_mem")
    seconds["CREATE INDEX rag_chunks_embedding_384_hnsw"] = time.perf_counter() - started
    started = time.perf_counter()
    await conn.execute("VACUUM (ANALYZE) rag_chunks")
    seconds["VACUUM (ANALYZE) rag_chunks"] = time.perf_counter() - started
    return Loaded(collections, seconds)


@dataclass(frozen=True)
class Query:
    tenant: Tenant
    collection_id: str
    text: str
    vector: np.ndarray


# (label, session settings for the statement, k). The service's sessions already have
# hnsw.ef_search, hnsw.iterative_scan = strict_order and hnsw.max_scan_tuples (main.py).
# enable_sort = off leaves the planner one way to produce the order: the HNSW index.
VARIANTS = [
    ("as the service issues it (planner's choice)", {}, 10),
    ("as the service issues it, k=40 (hybrid depth)", {}, 40),
    ("HNSW forced, iterative scan strict_order", {"enable_sort": "off"}, 10),
    ("HNSW forced, strict_order, k=40 (hybrid depth)", {"enable_sort": "off"}, 40),
    ("HNSW forced, iterative scan off", {"enable_sort": "off", "hnsw.iterative_scan": "off"}, 10),
    ("HNSW forced, strict_order, ef_search=400", {"enable_sort": "off", "hnsw.ef_search": "400"}, 10),
    ("HNSW forced, strict_order, ef_search=1000", {"enable_sort": "off", "hnsw.ef_search": "1000"}, 10),
]


@dataclass
class RecallResult:
    label: str
    k: int
    recalls: list[float]
    latencies: list[float]
    short: int  # queries that got fewer than k rows
    plan: str
    index: str  # the HNSW index the plan walks, "" for none

    @property
    def uses_hnsw(self) -> bool:
        return bool(self.index)


def hnsw_index(plan: str) -> str:
    found = re.search(r"rag_chunks_\w+_hnsw", plan)
    return found.group(0) if found else ""


async def fetch_ranked(
    conn: asyncpg.Connection, sql: str, q: Query, k: int, settings: dict[str, str]
) -> tuple[list[tuple[str, float]], float]:
    async with conn.transaction():
        for name, value in settings.items():
            await conn.execute("SELECT set_config($1, $2, true)", name, value)
        started = time.perf_counter()
        rows = await conn.fetch(sql, q.vector, q.tenant.tenant_id, q.collection_id, "{}", k)
        elapsed = (time.perf_counter() - started) * 1000
    return [(r["id"], float(r["distance"])) for r in rows], elapsed


async def explain(conn: asyncpg.Connection, sql: str, q: Query, k: int, settings: dict[str, str]) -> str:
    async with conn.transaction():
        for name, value in settings.items():
            await conn.execute("SELECT set_config($1, $2, true)", name, value)
        rows = await conn.fetch(
            "EXPLAIN (ANALYZE, COSTS OFF, BUFFERS OFF, SUMMARY OFF) " + sql,
            q.vector,
            q.tenant.tenant_id,
            q.collection_id,
            "{}",
            k,
        )
    return re.sub(r"'\[[^']*\]'", "'[query]'", "\n".join(r[0] for r in rows))


async def measure_recall(
    pool: asyncpg.Pool, queries: list[Query]
) -> tuple[list[RecallResult], list[float], str, int]:
    """Each variant against the exact top k; also the exact statement's latencies and plan,
    and on how many queries the exact statement agrees with a NumPy brute force."""
    exact_sql = vector_sql(DIMS, exact=True)
    # One statement text per variant: asyncpg prepares each text once per connection and
    # Postgres may keep its plan, made under the settings of the first executions, so
    # variants sharing a text would share a plan whatever their settings.
    approx = [f"/* variant {n} */ {vector_sql(DIMS, exact=False)}" for n in range(len(VARIANTS))]
    async with pool.acquire() as conn:
        for q in queries[:5]:  # warm the caches and the statements
            await fetch_ranked(conn, exact_sql, q, 40, {})
            for sql, (_, settings, k) in zip(approx, VARIANTS, strict=True):
                await fetch_ranked(conn, sql, q, k, settings)
        truths, exact_ms = [], []
        for q in queries:
            truth, ms = await fetch_ranked(conn, exact_sql, q, 40, {})
            truths.append(truth)
            exact_ms.append(ms)
        results = []
        for sql, (label, settings, k) in zip(approx, VARIANTS, strict=True):
            recalls, latencies, short = [], [], 0
            for q, truth in zip(queries, truths, strict=True):
                found, ms = await fetch_ranked(conn, sql, q, k, settings)
                recalls.append(recall(found, truth, k))
                latencies.append(ms)
                short += len(found) < min(k, len(truth))
            plan = await explain(conn, sql, queries[0], k, settings)
            results.append(RecallResult(label, k, recalls, latencies, short, plan, hnsw_index(plan)))
        exact_plan = await explain(conn, exact_sql, queries[0], 10, {})
        # The ground truth itself, checked: NumPy over the collection's stored vectors.
        agree = 0
        stored: dict[str, tuple[list[str], np.ndarray]] = {}
        for q, truth in zip(queries, truths, strict=True):
            if q.collection_id not in stored:
                rows = await conn.fetch(
                    "SELECT id, embedding FROM rag_chunks WHERE collection_id = $1", q.collection_id
                )
                stored[q.collection_id] = (
                    [r["id"] for r in rows],
                    np.stack([r["embedding"].to_numpy() for r in rows]),
                )
            ids, matrix = stored[q.collection_id]
            distances = 1.0 - matrix.astype(np.float64) @ q.vector.astype(np.float64)
            order = np.argsort(distances, kind="stable")[:10]
            brute = [(ids[i], float(distances[i])) for i in order]
            agree += recall(brute, truth, 10) == 1.0 and recall(truth, brute, 10) == 1.0
    return results, exact_ms, exact_plan, agree


async def search_latencies(rag: Rag, requests: list[Any], warmup: int) -> tuple[list[float], int]:
    """Sequential Search calls (concurrency 1): latencies (ms), calls with fewer than top_k."""
    for request in requests[:warmup]:
        await rag("Search", request)
    latencies, short = [], 0
    for request in requests:
        started = time.perf_counter()
        reply = await rag("Search", request)
        latencies.append((time.perf_counter() - started) * 1000)
        short += len(reply.results) < request.top_k
    return latencies, short


async def ingest_all(
    rag: Rag, tenant_id: str, collection_id: str, documents: list[str], concurrency: int
) -> tuple[int, float]:
    """IngestDocument for each document, `concurrency` at a time: (chunks, seconds)."""
    todo = iter(enumerate(documents))
    chunks = 0

    async def worker() -> None:
        nonlocal chunks
        for n, text in todo:
            reply = await rag(
                "IngestDocument",
                rag_pb2.IngestDocumentRequest(
                    tenant_id=tenant_id, collection_id=collection_id, text=text, title=f"manual part {n + 1}"
                ),
            )
            assert reply.status == rag_pb2.DOCUMENT_STATUS_READY and reply.created, reply
            chunks += reply.chunks

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return chunks, time.perf_counter() - started


# -- the run ----------------------------------------------------------------------------------


def show_plan(plan: str) -> None:
    for line in plan.splitlines():
        print(f"      {line}")


def line(label: str, values: list[float], unit: str = "ms") -> str:
    p50, p95, p99 = percentiles(values)
    return f"  {label:<44} p50 {p50:7.2f}  p95 {p95:7.2f}  p99 {p99:7.2f} {unit}  (n={len(values)})"


HNSW_ROLE = "bench_rag_hnsw"
INDEX_SETTLE_SECONDS = 11  # a backend flushes its statistics within 10 s of going idle


async def index_scans(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes WHERE relname = 'rag_chunks'"
    )
    return {r["indexrelname"]: r["idx_scan"] for r in rows}


QUERY_SETS = {
    "on-topic": "questions in the tenant's own vocabulary (its nearest chunks are mostly its own)",
    "off-topic": "questions in another tenant's vocabulary and domain (its nearest chunks are "
    "mostly other tenants': the hard case for a filtered index scan)",
}


async def report_recall(
    pool: asyncpg.Pool,
    settings: RagSettings,
    sets: dict[str, list[Query]],
    share: str,
    summary: list[tuple[str, str, str]],
    indexes: str,
) -> bool:
    """Recall of every variant; True when the statement as issued used an HNSW index.
    `indexes` names the HNSW indexes in place (the shared one, or collections' own too)."""
    print(f"\n== recall@k of the tenant-filtered vector search against exact search (SQL), {indexes} ==")
    print(
        f"  sessions set up like rag-svc's (create_search_pool): hnsw.ef_search="
        f"{settings.rag_hnsw_ef_search}, hnsw.iterative_scan=strict_order, "
        f"hnsw.max_scan_tuples={settings.rag_hnsw_max_scan_tuples}; ground truth: "
        f"vector_sql(384, exact=True), the statement for collections up to "
        f"{settings.rag_exact_search_max_chunks:,} chunks"
    )
    uses_hnsw = None
    for name, queries in sets.items():
        tenants = len({q.tenant.tenant_id for q in queries})
        print(f"\n  {name}: {len(queries)} {QUERY_SETS[name]}, over {tenants} tenants' collections")
        results, exact_ms, exact_plan, agree = await measure_recall(pool, queries)
        print(
            f"  NumPy brute force over the stored vectors agrees with the exact statement on "
            f"{agree}/{len(queries)}"
        )
        print(line("exact statement, k=40", exact_ms))
        if uses_hnsw is None:
            show_plan(exact_plan)
        for r in results:
            print(
                f"  {r.label}: recall@{r.k} mean {statistics.fmean(r.recalls):.4f}, "
                f"min {min(r.recalls):.2f}; {r.short} queries got fewer than {r.k} rows; "
                + (f"uses {r.index}" if r.uses_hnsw else "uses no HNSW index")
            )
            print(line("statement latency", r.latencies))
            if r.k == 10 and "ef_search=" not in r.label and (uses_hnsw is None or r.uses_hnsw):
                show_plan(r.plan)
        by_label = {r.label: r for r in results}
        issued = by_label["as the service issues it (planner's choice)"]
        forced = by_label["HNSW forced, iterative scan strict_order"]
        forced_40 = by_label["HNSW forced, strict_order, k=40 (hybrid depth)"]
        off = by_label["HNSW forced, iterative scan off"]
        summary.append(
            (
                f"recall@10, filtered HNSW (forced), {share} tenant, {name} [{indexes}]",
                _mean(forced.recalls),
                ">= 0.95",
            )
        )
        summary.append(
            (
                f"recall@40, same (hybrid's vector depth), {name} [{indexes}]",
                _mean(forced_40.recalls),
                ">= 0.95",
            )
        )
        summary.append(
            (f"recall@10, same, iterative scan off, {name} [{indexes}]", _mean(off.recalls), "(comparison)")
        )
        for ef in (400, 1000):
            wider = by_label[f"HNSW forced, strict_order, ef_search={ef}"]
            summary.append(
                (f"recall@10, same, ef_search={ef}, {name} [{indexes}]", _mean(wider.recalls), "(comparison)")
            )
        plan = "HNSW" if issued.uses_hnsw else "btree+sort"
        summary.append(
            (f"recall@10, statement as issued ({plan}), {name} [{indexes}]", _mean(issued.recalls), ">= 0.95")
        )
        if uses_hnsw is None:
            uses_hnsw = issued.uses_hnsw
    return bool(uses_hnsw)


def _mean(values: list[float]) -> str:
    return f"{statistics.fmean(values):.4f}"


async def report_search(
    conn: asyncpg.Connection,
    replicas: list[tuple[str, str, Rag]],
    loaded: Loaded,
    work: dict[str, Any],
    calls: int,
    summary: list[tuple[str, str, str]],
) -> None:
    print("\n== Search over gRPC (mTLS), concurrency 1, top_k 10, query text embedded by rag-svc ==")
    warmup = 20
    on, off = work["search_queries"]["on-topic"], work["search_queries"]["off-topic"]
    mixed = [q for pair in zip(on, off, strict=True) for q in pair]
    half = max(calls // 2, 20)
    modes = (
        ("hybrid, on-topic questions", rag_pb2.SEARCH_MODE_HYBRID, on[:calls]),
        ("hybrid, off-topic questions", rag_pb2.SEARCH_MODE_HYBRID, off[:calls]),
        ("vector, both kinds", rag_pb2.SEARCH_MODE_VECTOR, mixed[:half]),
        ("keyword, both kinds", rag_pb2.SEARCH_MODE_KEYWORD, mixed[:half]),
    )
    await asyncio.sleep(INDEX_SETTLE_SECONDS)  # earlier statements' counts, flushed
    for short_label, label, client in replicas:
        print(f"  {label}")
        before = await index_scans(conn)
        statements = 0
        hybrid: list[float] = []
        for mode_name, mode, questions in modes:
            requests = [
                rag_pb2.SearchRequest(
                    tenant_id=t.tenant_id,
                    collection_id=loaded.collections[t.tenant_id],
                    query=text,
                    mode=mode,
                    top_k=10,
                )
                for t, text in questions
            ]
            latencies, short = await search_latencies(client, requests, warmup)
            statements += (len(requests) + warmup) * (mode != rag_pb2.SEARCH_MODE_KEYWORD)
            print(line(mode_name, latencies) + (f", {short} calls with < 10 results" if short else ""))
            if mode == rag_pb2.SEARCH_MODE_HYBRID:
                hybrid += latencies
        print(line("hybrid, all", hybrid))
        p95 = percentiles(hybrid)[1]
        summary.append((f"hybrid top-10 p95, {short_label}", f"{p95:.1f} ms", "<= 50 ms"))
        await asyncio.sleep(INDEX_SETTLE_SECONDS)
        after = await index_scans(conn)
        used = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name)}
        own = [name for name in used if name.startswith("rag_chunks_col_")]
        if own:
            used[f"{len(own)} collections' own HNSW indexes"] = sum(used.pop(name) for name in own)
        print(
            f"    index scans on rag_chunks meanwhile (pg_stat_user_indexes; {statements} vector "
            f"statements): " + (", ".join(f"{n} {c}" for n, c in sorted(used.items())) or "none")
        )


async def report_ingestion(
    rag: Rag,
    conn: asyncpg.Connection,
    work: dict[str, Any],
    concurrency: int,
    summary: list[tuple[str, str, str]],
) -> None:
    print("\n== ingestion through IngestDocument (local model, inline documents) ==")
    tenant, documents = work["ingest_tenant"], work["documents"]
    words = statistics.fmean(len(d.split()) for d in documents)
    size = statistics.fmean(len(d.encode()) for d in documents)
    print(f"  {len(documents)} documents of {words:,.0f} words ({size / 1000:.1f} kB) each, default replica")
    first = ""
    for n in sorted({1, concurrency}):
        created = await rag(
            "CreateCollection", rag_pb2.CreateCollectionRequest(tenant_id=tenant, name=f"ingest-c{n}")
        )
        col = created.collection.collection_id
        first = first or col
        chunks, seconds = await ingest_all(rag, tenant, col, documents, n)
        print(
            f"  concurrency {n}: {chunks:,} chunks in {seconds:.1f} s = {chunks / seconds:,.1f} chunks/s "
            f"({len(documents) / seconds:.2f} documents/s)"
        )
        summary.append((f"ingestion, concurrency {n}", f"{chunks / seconds:,.1f} chunks/s", "(no target)"))
    rows = await conn.fetch(
        "SELECT text, tokens FROM rag_chunks WHERE collection_id = $1 ORDER BY document_id, chunk_index",
        first,
    )
    texts = [r["text"] for r in rows]
    model = work["model"]
    encode(model, texts[:32])
    started = time.perf_counter()
    encode(model, texts)
    rate = len(texts) / (time.perf_counter() - started)
    tokens = statistics.fmean(r["tokens"] for r in rows)
    print(
        f"  the model alone, in this process, on the same {len(texts)} chunks ({tokens:.0f} tokens "
        f"each), batch 32: {rate:,.1f} chunks/s"
    )
    summary.append(("model alone on the same chunks", f"{rate:,.1f} chunks/s", "(reference)"))


async def bench(args: argparse.Namespace, stack: RunningStack, work: dict[str, Any]) -> None:
    tenants = work["tenants"]
    summary: list[tuple[str, str, str]] = []
    conn = await asyncpg.connect(stack.database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    await register_vector(conn)
    versions = await conn.fetchrow(
        "SELECT current_setting('server_version') AS pg, "
        "(SELECT extversion FROM pg_extension WHERE extname = 'vector') AS vector"
    )
    print(
        f"\nstack up in {stack.startup_seconds:.1f} s: "
        f"PostgreSQL {versions['pg']}, pgvector {versions['vector']}"
    )
    # The third replica connects as a role whose sessions run with enable_sort = off: the
    # planner then has one way to order by distance, the HNSW index.
    await conn.execute(f"CREATE ROLE {HNSW_ROLE} LOGIN SUPERUSER")
    await conn.execute(f"ALTER ROLE {HNSW_ROLE} SET enable_sort = off")
    settings = RagSettings(database_url=stack.database_url, rag_db_pool_size=2)
    pool = await create_search_pool(settings)
    exact0 = {"KEYRELAY_RAG_EXACT_SEARCH_MAX_CHUNKS": "0", "KEYRELAY_RAG_PRELOAD_MODEL": "true"}
    hnsw_url = stack.database_url.replace("//postgres@", f"//{HNSW_ROLE}@")
    clients: list[Rag] = []
    try:
        with contextlib.ExitStack() as running:
            addresses = [
                stack.grpc_addr("rag"),
                running.enter_context(stack.replica("rag", "rag-exact0", **exact0)),
                running.enter_context(
                    stack.replica("rag", "rag-hnsw", **exact0, KEYRELAY_DATABASE_URL=hnsw_url)
                ),
            ]
            clients = [Rag(address, stack.tls_dir) for address in addresses]
            rag = clients[0]

            print("\n== loading ==")
            loaded = await load_corpus(rag, conn, tenants, work["texts"], work["vectors"])
            for label, seconds in loaded.seconds.items():
                print(f"  {label:<48} {seconds:8.1f} s")
            sizes = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM rag_chunks) AS rows, "
                "pg_total_relation_size('rag_chunks') AS total, "
                "pg_relation_size('rag_chunks_embedding_384_hnsw') AS hnsw, "
                "(SELECT sum(chunk_count) FROM rag_collections) AS counted"
            )
            assert sizes["rows"] == sizes["counted"] == len(tenants) * args.chunks_per_tenant, dict(sizes)
            print(
                f"  rag_chunks: {sizes['rows']:,} rows, {len(tenants)} collections of "
                f"{args.chunks_per_tenant:,} ({100 / len(tenants):.1f}% of rows each); "
                f"{sizes['total'] / 2**20:,.0f} MB with indexes, HNSW {sizes['hnsw'] / 2**20:,.0f} MB"
            )

            sets = {
                name: [
                    Query(t, loaded.collections[t.tenant_id], text, v)
                    for (t, text), v in zip(queries, work["recall_vectors"][name], strict=True)
                ]
                for name, queries in work["recall_queries"].items()
            }
            share = f"{100 / len(tenants):g}%"
            uses_hnsw = await report_recall(pool, settings, sets, share, summary, "shared index")

            limit = settings.rag_exact_search_max_chunks
            planner = "the HNSW index" if uses_hnsw else "btree + sort, i.e. exact"
            replicas = [
                ("default config", f"default config (exact statement up to {limit:,} chunks)", clients[0]),
                (
                    "EXACT_SEARCH_MAX_CHUNKS=0",
                    f"replica with KEYRELAY_RAG_EXACT_SEARCH_MAX_CHUNKS=0 (HNSW-shaped statement; "
                    f"in SQL above the planner chose {planner})",
                    clients[1],
                ),
                (
                    "HNSW walked (=0, enable_sort off)",
                    "replica with KEYRELAY_RAG_EXACT_SEARCH_MAX_CHUNKS=0 and enable_sort=off for its "
                    "database role (the HNSW index walked)",
                    clients[2],
                ),
            ]
            await report_search(conn, replicas, loaded, work, args.calls, summary)
            print(line("for comparison: query embedding alone, in-process", work["embed_ms"]))
            embed_p95 = f"{percentiles(work['embed_ms'])[1]:.1f} ms"
            summary.append(("query embedding alone (p95, in-process)", embed_p95, ""))

            # What rag-svc does once a collection outgrows exact search: its own HNSW index.
            print("\n== every collection gets its own HNSW index (schema.collection_index_sql) ==")
            started = time.perf_counter()
            for collection_id in loaded.collections.values():
                await conn.execute(collection_index_sql(collection_id, DIMS))
            own_size = await conn.fetchval(
                "SELECT sum(pg_relation_size(indexrelid)) FROM pg_stat_user_indexes "
                "WHERE indexrelname LIKE 'rag_chunks_col_%_hnsw'"
            )
            print(
                f"  {len(loaded.collections)} x CREATE INDEX CONCURRENTLY: "
                f"{time.perf_counter() - started:.1f} s, {own_size / 2**20:,.0f} MB in all"
            )
            await report_recall(pool, settings, sets, share, summary, "own indexes")
            own = [
                (
                    "HNSW walked, own index",
                    "the HNSW-walking replica again, now on each collection's own index",
                    clients[2],
                )
            ]
            await report_search(conn, own, loaded, work, args.calls, summary)
            await report_ingestion(rag, conn, work, args.ingest_concurrency, summary)
    finally:
        for client in clients:
            await client.close()
        await pool.close()
        await conn.close()

    print("\n== summary ==")
    print(f"  {'measure':<76}{'result':>16}   target")
    for label, value, target in summary:
        print(f"  {label:<76}{value:>16}   {target}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--chunks-per-tenant", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=100, help="recall queries")
    parser.add_argument("--calls", type=int, default=200, help="timed hybrid Search calls per replica")
    parser.add_argument("--ingest-docs", type=int, default=20)
    parser.add_argument("--ingest-words", type=int, default=2500)
    parser.add_argument("--ingest-concurrency", type=int, default=4)
    parser.add_argument(
        "--quick", action="store_true", help="10 tenants, 20 queries, fewer calls and documents"
    )
    parser.add_argument("--prepare-only", action="store_true", help="build and cache the corpus, then stop")
    args = parser.parse_args()
    if args.quick:
        args.tenants, args.queries, args.calls, args.ingest_docs = 10, 20, 50, 4

    print(f"machine: {os.cpu_count()} CPUs; torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
    started = time.perf_counter()
    tenants = make_tenants(args.tenants)
    texts = corpus_texts(tenants, args.chunks_per_tenant)
    flat = [text for per_tenant in texts for text in per_tenant]
    words = [len(t.split()) for t in flat]
    print(
        f"corpus: {args.tenants} tenants x {args.chunks_per_tenant:,} chunks = {len(flat):,} passages of "
        f"{min(words)}-{max(words)} words (mean {statistics.fmean(words):.1f}), "
        f"{len(DOMAINS)} domains, generated in {time.perf_counter() - started:.1f} s"
    )
    loaded_model: list[Any] = []

    def model_loader() -> Any:
        if not loaded_model:
            loaded_model.append(load_model())
        return loaded_model[0]

    vectors, seconds, path = corpus_embeddings(model_loader, flat)
    if seconds is None:
        note = path.with_suffix(".json")
        made = json.loads(note.read_text()) if note.exists() else {}
        earlier = f"; embedding took {made['seconds']:.0f} s when it was made" if made else ""
        print(f"embeddings: from the cache {path.relative_to(ROOT)}{earlier}")
    else:
        path.with_suffix(".json").write_text(json.dumps({"seconds": seconds, "chunks": len(flat)}))
        print(
            f"embeddings: {len(flat):,} passages embedded in {seconds:.0f} s "
            f"({len(flat) / seconds:.0f} chunks/s), cached in {path.relative_to(ROOT)}"
        )

    model = model_loader()

    # Query n goes to tenant n % tenants; an off-topic one is written with the next tenant's
    # vocabulary (another domain) and searched in this tenant's collection.
    def questions(count: int, first: int) -> dict[str, list[tuple[Tenant, str]]]:
        owners = [tenants[n % len(tenants)] for n in range(count)]
        return {
            "on-topic": [(t, query_text(t, first + n)) for n, t in enumerate(owners)],
            "off-topic": [
                (t, query_text(tenants[(t.index + 1) % len(tenants)], first + count + n))
                for n, t in enumerate(owners)
            ],
        }

    recall_queries = questions(args.queries, 0)
    recall_vectors = {
        name: encode(model, [text for _, text in queries]) for name, queries in recall_queries.items()
    }
    search_queries = questions(args.calls, 10_000)
    embed_ms = []
    for n, (_, text) in enumerate(search_queries["on-topic"][:110]):
        begun = time.perf_counter()
        encode(model, [text])
        if n >= 10:  # after a warm-up
            embed_ms.append((time.perf_counter() - begun) * 1000)
    for name, queries in recall_queries.items():
        print(f"{name} questions, e.g.: " + " | ".join(text for _, text in queries[:3]))
    inline_max = RagSettings.model_fields["rag_inline_max_bytes"].default
    ingest = dataclasses.replace(tenants[0], tenant_id="bench-rag-ingest")
    documents = [
        ingest_document(ingest, n, args.ingest_words, inline_max - 1000) for n in range(args.ingest_docs)
    ]
    if args.prepare_only:
        return
    work = {
        "tenants": tenants,
        "texts": texts,
        "vectors": vectors,
        "model": model,
        "recall_queries": recall_queries,
        "recall_vectors": recall_vectors,
        "search_queries": search_queries,
        "embed_ms": embed_ms,
        "ingest_tenant": ingest.tenant_id,
        "documents": documents,
    }
    root = Path(tempfile.mkdtemp(prefix="keyrelay-bench-rag-"))
    try:
        with RunningStack(root / "data", env={"KEYRELAY_RAG_PRELOAD_MODEL": "true"}) as stack:
            await bench(args, stack, work)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    uvloop.run(main())
