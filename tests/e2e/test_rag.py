"""rag-svc on the real stack: Postgres with pgvector, the local embedding model, the router
and fake providers that echo the prompt they were given (so an answer shows its context)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import grpc
import nats
import numpy as np
import pytest
from pgvector.asyncpg import register_vector

from keyrelay.common.rpc import secure_channel
from keyrelay.common.testing.documents import pdf_with_pages
from keyrelay.rag.adapters.retrieval import vector_sql
from keyrelay.rag.adapters.store import CHUNK_COPY_COLUMNS
from keyrelay.v1 import rag_pb2, rag_pb2_grpc
from tests.e2e.harness import RunningStack
from tests.e2e.providers import Fakes, running_fakes
from tests.e2e.test_router import fake_key, store_key

pytestmark = pytest.mark.e2e

HYBRID, VECTOR, KEYWORD = rag_pb2.SEARCH_MODE_HYBRID, rag_pb2.SEARCH_MODE_VECTOR, rag_pb2.SEARCH_MODE_KEYWORD
READY, PENDING = rag_pb2.DOCUMENT_STATUS_READY, rag_pb2.DOCUMENT_STATUS_PENDING


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    with running_fakes(echo=True) as running:
        yield running


async def rag(stack: RunningStack, rpc: str, request: Any, tenant: str, address: str | None = None) -> Any:
    async with secure_channel(address or stack.grpc_addr("rag"), stack.tls_dir, "portal") as channel:
        call = getattr(rag_pb2_grpc.RagStub(channel), rpc)
        metadata = (("x-keyrelay-tenant", tenant),)
        if rpc == "AnswerStream":
            return [chunk async for chunk in call(request, metadata=metadata, timeout=120)]
        return await call(request, metadata=metadata, timeout=120)


def tenant_id(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}"


async def collection(stack: RunningStack, tenant: str, name: str = "docs", model: str = "") -> str:
    request = rag_pb2.CreateCollectionRequest(tenant_id=tenant, name=name, embedding_model=model)
    return (await rag(stack, "CreateCollection", request, tenant)).collection.collection_id


async def ingest(stack: RunningStack, tenant: str, collection_id: str, text: str, **fields: Any) -> Any:
    request = rag_pb2.IngestDocumentRequest(
        tenant_id=tenant, collection_id=collection_id, text=text, **fields
    )
    return await rag(stack, "IngestDocument", request, tenant)


async def search(
    stack: RunningStack, tenant: str, collection_id: str, query: str, **fields: Any
) -> list[Any]:
    request = rag_pb2.SearchRequest(tenant_id=tenant, collection_id=collection_id, query=query, **fields)
    return list((await rag(stack, "Search", request, tenant)).results)


async def db(stack: RunningStack) -> asyncpg.Connection:
    return await asyncpg.connect(stack.database_url.replace("postgresql+asyncpg://", "postgresql://"))


async def chunk_texts(stack: RunningStack, document_id: str) -> list[str]:
    conn = await db(stack)
    try:
        rows = await conn.fetch(
            "SELECT text FROM rag_chunks WHERE document_id = $1 ORDER BY chunk_index", document_id
        )
        return [r["text"] for r in rows]
    finally:
        await conn.close()


async def test_each_tenant_finds_only_its_own_chunks(stack: RunningStack) -> None:
    a, b = tenant_id("rag-a"), tenant_id("rag-b")
    col_a, col_b = await collection(stack, a), await collection(stack, b)  # same name, other tenant
    shared = "The quarterly invoice for the Atlas project is due on the first Monday of the month."
    doc_a = await ingest(stack, a, col_a, shared + " Tenant A pays by wire.", metadata={"team": "finance"})
    doc_b = await ingest(stack, b, col_b, shared + " Tenant B pays by card.", metadata={"team": "finance"})
    assert doc_a.status == READY and doc_b.status == READY and doc_a.chunks >= 1

    for mode in (HYBRID, VECTOR, KEYWORD):
        for filters in ({}, {"team": "finance"}):
            results = await search(
                stack, b, col_b, "quarterly invoice Atlas", mode=mode, filters=filters, top_k=50
            )
            assert results and {r.document_id for r in results} == {doc_b.document_id}

    # Tenant B naming A's collection or document: not found, never A's data.
    for rpc, request in (
        ("Search", rag_pb2.SearchRequest(tenant_id=b, collection_id=col_a, query="invoice")),
        ("GetCollection", rag_pb2.GetCollectionRequest(tenant_id=b, collection_id=col_a)),
        ("ListDocuments", rag_pb2.ListDocumentsRequest(tenant_id=b, collection_id=col_a)),
        (
            "GetDocument",
            rag_pb2.GetDocumentRequest(tenant_id=b, collection_id=col_a, document_id=doc_a.document_id),
        ),
        (
            "DeleteDocument",
            rag_pb2.DeleteDocumentRequest(tenant_id=b, collection_id=col_a, document_id=doc_a.document_id),
        ),
        ("DeleteCollection", rag_pb2.DeleteCollectionRequest(tenant_id=b, collection_id=col_a)),
        ("IngestDocument", rag_pb2.IngestDocumentRequest(tenant_id=b, collection_id=col_a, text="planted")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await rag(stack, rpc, request, b)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND, rpc

    # Claiming to be A in the body while acting for B: refused before anything is read.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await rag(
            stack, "Search", rag_pb2.SearchRequest(tenant_id=a, collection_id=col_a, query="invoice"), b
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

    listed = await rag(stack, "ListCollections", rag_pb2.ListCollectionsRequest(tenant_id=b), b)
    assert [c.collection_id for c in listed.collections] == [col_b]
    assert await chunk_texts(stack, doc_a.document_id)  # A's document survived B's delete


async def test_reingest_is_idempotent_and_a_change_replaces_chunks(stack: RunningStack) -> None:
    tenant = tenant_id("rag-idem")
    col = await collection(stack, tenant)
    first = await ingest(
        stack, tenant, col, "Returns are accepted within 30 days.", source_uri="kb://returns"
    )
    again = await ingest(
        stack, tenant, col, "Returns are accepted within 30 days.", source_uri="kb://returns"
    )
    assert first.created and not again.created and again.document_id == first.document_id
    assert await chunk_texts(stack, first.document_id) == ["Returns are accepted within 30 days."]

    changed = await ingest(
        stack, tenant, col, "Returns are accepted within 60 days.", source_uri="kb://returns"
    )
    assert changed.created and changed.document_id == first.document_id and changed.status == READY
    assert await chunk_texts(stack, first.document_id) == ["Returns are accepted within 60 days."]
    results = await search(stack, tenant, col, "30 days", mode=KEYWORD)
    assert all("30 days" not in r.text for r in results)

    documents = await rag(
        stack, "ListDocuments", rag_pb2.ListDocumentsRequest(tenant_id=tenant, collection_id=col), tenant
    )
    assert [d.document_id for d in documents.documents] == [first.document_id]


PRODUCTS = [
    "Hinge kit XK-4471-B fits the left cabinet door of the Aurora series.",
    "Hinge kit XK-4417-B fits the right cabinet door of the Aurora series.",
    "Hinge kit XK-4471-D fits the left cabinet door of the Boreal series.",
    "Hinge kit XK-7441-B fits the upper cabinet door of the Aurora series.",
    "Hinge kit XK-4741-B fits the lower cabinet door of the Aurora series.",
    "Hinge kit XK-1447-B fits the pantry cabinet door of the Aurora series.",
    "Employees may work from home on two days each week.",
    "The cafeteria serves breakfast from seven until nine.",
]


async def test_hybrid_finds_what_either_search_alone_misses(stack: RunningStack) -> None:
    tenant = tenant_id("rag-hybrid")
    col = await collection(stack, tenant)
    for n, text in enumerate(PRODUCTS):
        await ingest(stack, tenant, col, text, title=f"note {n}")

    async def top(query: str, mode: int, k: int = 1) -> list[str]:
        return [r.text for r in await search(stack, tenant, col, query, mode=mode, top_k=k)]

    code = "XK-4471-B"
    assert PRODUCTS[0] not in await top(code, VECTOR), "vector search alone already finds the exact code"
    assert await top(code, KEYWORD) == [PRODUCTS[0]]
    assert PRODUCTS[0] in await top(code, HYBRID, 2)

    paraphrase = "How often can staff telecommute?"
    assert await top(paraphrase, KEYWORD, 5) == [], "keyword search alone already finds the paraphrase"
    assert await top(paraphrase, VECTOR) == [PRODUCTS[6]]
    assert await top(paraphrase, HYBRID) == [PRODUCTS[6]]


FACTS = {
    "pricing": "The Nimbus plan costs 42 euros per seat per month, billed annually.",
    "support": "Support tickets on the Nimbus plan are answered within 4 business hours.",
    "storage": "Each Nimbus workspace includes 250 gigabytes of encrypted storage.",
}


async def test_answer_cites_the_chunks_that_hold_the_facts(stack: RunningStack, fakes: Fakes) -> None:
    tenant = tenant_id("rag-answer")
    await store_key(stack, tenant, "openai", fake_key())
    col = await collection(stack, tenant)
    ids = {}
    for name, fact in FACTS.items():
        ids[name] = (await ingest(stack, tenant, col, fact, title=name)).document_id

    request = rag_pb2.AnswerRequest(
        tenant_id=tenant,
        collection_id=col,
        question="How much does the Nimbus plan cost per seat?",
        model="openai/gpt-4o-mini",
        top_k=3,
    )
    answer = await rag(stack, "Answer", request, tenant)
    assert answer.route.model == "openai/gpt-4o-mini" and answer.usage.total_tokens > 0
    # The echoing provider repeats the numbered context: each [n] is followed by its source.
    assert answer.citations, answer.answer
    for citation in answer.citations:
        after = answer.answer.split(f"[{citation.n}]", 1)[1]
        assert after.lstrip().startswith(citation.title) and citation.text in after
        assert citation.text in await chunk_texts(stack, citation.document_id)
    assert ids["pricing"] in {c.document_id for c in answer.citations}
    assert FACTS["pricing"] in {c.text for c in answer.citations}
    # What the provider was sent: the question and the numbered sources, nothing of another tenant.
    sent = json.dumps(fakes.requests("openai")[-1]["body"])
    assert "How much does the Nimbus plan cost per seat?" in sent and "[1]" in sent

    chunks = await rag(stack, "AnswerStream", request, tenant)
    final = chunks[-1].final
    streamed = "".join(c.delta for c in chunks[:-1])
    assert streamed == answer.answer
    assert [c.chunk_id for c in final.citations] == [c.chunk_id for c in answer.citations]
    assert final.route.model == "openai/gpt-4o-mini" and final.usage.total_tokens > 0


async def test_pdf_html_and_markdown_are_searchable(stack: RunningStack) -> None:
    tenant = tenant_id("rag-formats")
    col = await collection(stack, tenant)
    documents = {
        "pdf": (
            pdf_with_pages("Warranty claims need the serial number", "printed under the battery."),
            "application/pdf",
        ),
        "html": (
            b"<html><head><title>x</title><style>p{}</style></head><body><p>Firmware <b>7.2</b> fixes the "
            b"overheating fan.</p><script>steal()</script></body></html>",
            "text/html; charset=utf-8",
        ),
        "markdown": (b"# Shipping\n\nParcels to **Iceland** take *nine* days.", "text/markdown"),
    }
    for name, (content, content_type) in documents.items():
        request = rag_pb2.IngestDocumentRequest(
            tenant_id=tenant, collection_id=col, content=content, content_type=content_type, title=name
        )
        assert (await rag(stack, "IngestDocument", request, tenant)).status == READY
    hits = {
        q: await search(stack, tenant, col, q, mode=KEYWORD, top_k=1)
        for q in ("serial battery", "firmware fan", "Iceland parcels")
    }
    assert hits["serial battery"][0].title == "pdf" and "serial number" in hits["serial battery"][0].text
    assert (
        hits["firmware fan"][0].title == "html"
        and hits["firmware fan"][0].text == "Firmware 7.2 fixes the overheating fan."
    )
    assert hits["Iceland parcels"][0].title == "markdown"
    assert "**" not in hits["Iceland parcels"][0].text and "#" not in hits["Iceland parcels"][0].text


async def test_large_document_is_a_background_job(stack: RunningStack) -> None:
    tenant = tenant_id("rag-job")
    col = await collection(stack, tenant)
    paragraphs = [f"Section {n}: the maintenance window {n} starts at {n % 24}:00 UTC." for n in range(900)]
    reply = await ingest(stack, tenant, col, "\n\n".join(paragraphs), title="runbook")
    assert reply.status == PENDING and reply.job_id and reply.chunks == 0
    request = rag_pb2.GetDocumentRequest(tenant_id=tenant, collection_id=col, document_id=reply.document_id)
    deadline = time.monotonic() + 120
    while (document := (await rag(stack, "GetDocument", request, tenant)).document).status != READY:
        assert document.status != rag_pb2.DOCUMENT_STATUS_FAILED, document.error
        assert time.monotonic() < deadline, "the background job did not finish in 120 s"
        await asyncio.sleep(0.5)
    assert document.chunks > 10
    hits = await search(stack, tenant, col, "maintenance window 777", mode=KEYWORD, top_k=1)
    assert "window 777 " in hits[0].text

    # Re-indexing rebuilds the chunks from the stored content, in the background too.
    reindex = rag_pb2.ReindexDocumentRequest(
        tenant_id=tenant, collection_id=col, document_id=reply.document_id
    )
    queued = await rag(stack, "ReindexDocument", reindex, tenant)
    assert queued.job_id and queued.document.status == PENDING
    while (again := (await rag(stack, "GetDocument", request, tenant)).document).status != READY:
        assert time.monotonic() < deadline + 120, "the re-index did not finish"
        await asyncio.sleep(0.5)
    assert again.chunks == document.chunks
    assert (await search(stack, tenant, col, "maintenance window 777", mode=KEYWORD, top_k=1))[
        0
    ].text == hits[0].text

    # A large document without text fails in the background, with a reason the tenant can act on.
    empty = "<html><body>" + "<script>var x = 1;</script>" * 1000 + "</body></html>"
    failed = await ingest(stack, tenant, col, empty, content_type="text/html", title="scripts only")
    assert failed.status == PENDING
    probe = rag_pb2.GetDocumentRequest(tenant_id=tenant, collection_id=col, document_id=failed.document_id)
    while (broken := (await rag(stack, "GetDocument", probe, tenant)).document).status == PENDING:
        await asyncio.sleep(0.2)
    while broken.status == rag_pb2.DOCUMENT_STATUS_PROCESSING:
        broken = (await rag(stack, "GetDocument", probe, tenant)).document
        await asyncio.sleep(0.2)
    assert broken.status == rag_pb2.DOCUMENT_STATUS_FAILED and "no extractable text" in broken.error


async def test_bad_input_is_refused_and_nothing_is_written(stack: RunningStack) -> None:
    tenant = tenant_id("rag-bad")
    col = await collection(stack, tenant)
    bad = [
        rag_pb2.IngestDocumentRequest(
            tenant_id=tenant, collection_id=col, text="x", content_type="image/png"
        ),
        rag_pb2.IngestDocumentRequest(tenant_id=tenant, collection_id=col, text=""),
        rag_pb2.IngestDocumentRequest(
            tenant_id=tenant, collection_id=col, content=b"%PDF-1.4 broken", content_type="application/pdf"
        ),
        rag_pb2.IngestDocumentRequest(
            tenant_id=tenant,
            collection_id=col,
            text="<html><script>x</script></html>",
            content_type="text/html",
        ),
    ]
    for request in bad:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await rag(stack, "IngestDocument", request, tenant)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.details()
    for request in (
        rag_pb2.SearchRequest(tenant_id=tenant, collection_id=col, query=""),
        rag_pb2.SearchRequest(tenant_id=tenant, collection_id=col, query="x", top_k=-1),
        rag_pb2.CreateCollectionRequest(tenant_id=tenant, name="../etc"),
        rag_pb2.CreateCollectionRequest(tenant_id=tenant, name="docs"),  # exists
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await rag(stack, type(request).__name__.removesuffix("Request"), request, tenant)
        assert refused.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ALREADY_EXISTS)
    documents = await rag(
        stack, "ListDocuments", rag_pb2.ListDocumentsRequest(tenant_id=tenant, collection_id=col), tenant
    )
    assert list(documents.documents) == []


async def test_filtered_vector_query_uses_the_hnsw_index(stack: RunningStack) -> None:
    tenant = tenant_id("rag-plan")
    col = await collection(stack, tenant)
    seed = await ingest(stack, tenant, col, "a seed document for the plan test")
    conn = await db(stack)
    await register_vector(conn)
    try:
        # Enough rows that an index pays off: 4,000 random unit vectors in this collection.
        rng = np.random.default_rng(7)
        vectors = rng.normal(size=(4000, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        await conn.copy_records_to_table(
            "rag_chunks",
            records=[
                (f"chk_plan{n}", tenant, col, seed.document_id, n + 1, f"row {n}", "{}", 3, 384, v)
                for n, v in enumerate(vectors)
            ],
            columns=CHUNK_COPY_COLUMNS,
        )
        await conn.execute("ANALYZE rag_chunks")
        plan = await conn.fetch("EXPLAIN " + vector_sql(384, exact=False), vectors[0], tenant, col, "{}", 10)
        text = "\n".join(r[0] for r in plan)
        assert "rag_chunks_embedding_384_hnsw" in text, text
    finally:
        await conn.close()


async def test_a_collection_that_outgrows_exact_search_gets_its_own_hnsw_index(stack: RunningStack) -> None:
    """Above KEYRELAY_RAG_EXACT_SEARCH_MAX_CHUNKS a collection gets a partial HNSW index of its
    own: its searches walk a graph of its chunks only, so the tenant filter costs no recall."""
    tenant = tenant_id("rag-big")
    with stack.replica("rag", "rag-small-exact", KEYRELAY_RAG_EXACT_SEARCH_MAX_CHUNKS="5") as small:
        request = rag_pb2.CreateCollectionRequest(tenant_id=tenant, name="big")
        col = (await rag(stack, "CreateCollection", request, tenant, small)).collection.collection_id
        paragraphs = [
            f"Section {n}. The depot in region {n} ships pallets on weekday {n % 5} and keeps "
            f"spare parts for model R{n}00 in aisle {n}; " + "returns wait for an inspection slot. " * 20
            for n in range(12)
        ]
        ingest = rag_pb2.IngestDocumentRequest(
            tenant_id=tenant, collection_id=col, text="\n\n".join(paragraphs)
        )
        reply = await rag(stack, "IngestDocument", ingest, tenant, small)
        assert reply.status == READY and reply.chunks > 5, reply
        name = f"rag_chunks_{col}_hnsw"
        conn = await db(stack)
        await register_vector(conn)
        try:
            deadline = time.monotonic() + 60
            while not await conn.fetchval(
                "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                "WHERE c.relname = $1",
                name,
            ):
                assert time.monotonic() < deadline, "the collection's own index was not built"
                await asyncio.sleep(0.2)
            # With a sort ruled out the planner must pick an index for the order: this one.
            await conn.execute("SET enable_sort = off")
            await conn.execute("SET plan_cache_mode = force_custom_plan")
            vector = await conn.fetchval(
                "SELECT embedding FROM rag_chunks WHERE collection_id = $1 LIMIT 1", col
            )
            plan = await conn.fetch("EXPLAIN " + vector_sql(384, exact=False), vector, tenant, col, "{}", 10)
            assert name in "\n".join(r[0] for r in plan), plan
            search = rag_pb2.SearchRequest(
                tenant_id=tenant, collection_id=col, query="spare parts aisle 7", mode=VECTOR
            )
            hits = (await rag(stack, "Search", search, tenant, small)).results
            assert hits and all(h.document_id == reply.document_id for h in hits)

            delete = rag_pb2.DeleteCollectionRequest(tenant_id=tenant, collection_id=col)
            await rag(stack, "DeleteCollection", delete, tenant, small)
            assert await conn.fetchval("SELECT to_regclass($1)", name) is None, (
                "the index outlived its collection"
            )
        finally:
            await conn.close()


async def test_every_ingest_delete_and_answer_is_audited(stack: RunningStack) -> None:
    tenant = tenant_id("rag-audit")
    await store_key(stack, tenant, "openai", fake_key())
    col = await collection(stack, tenant)
    doc = await ingest(stack, tenant, col, "Audit me: the vault rotates keys every 90 days.")
    # The same content again is a no-op, and still audited.
    await ingest(stack, tenant, col, "Audit me: the vault rotates keys every 90 days.")
    with pytest.raises(grpc.aio.AioRpcError):  # refused, still audited
        await ingest(stack, tenant, col, "x", content_type="image/png")
    await rag(
        stack,
        "Answer",
        rag_pb2.AnswerRequest(
            tenant_id=tenant,
            collection_id=col,
            question="How often are keys rotated?",
            model="openai/gpt-4o-mini",
        ),
        tenant,
    )
    await rag(
        stack,
        "DeleteDocument",
        rag_pb2.DeleteDocumentRequest(tenant_id=tenant, collection_id=col, document_id=doc.document_id),
        tenant,
    )
    await rag(
        stack,
        "DeleteCollection",
        rag_pb2.DeleteCollectionRequest(tenant_id=tenant, collection_id=col),
        tenant,
    )

    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(f"keyrelay.audit.{tenant}.>", ordered_consumer=True)
        actions = []
        deadline = time.monotonic() + 10
        while len(actions) < 7 and time.monotonic() < deadline:
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                continue
            event = json.loads(msg.data)
            if event["source"] == "rag-svc":  # the key stored above is keyvault-svc's
                actions.append((event["data"]["action"], event["data"]["outcome"]))
    finally:
        await nc.close()
    assert actions == [
        ("rag.collection.created", "success"),
        ("rag.document.ingested", "success"),
        ("rag.document.ingested", "success"),
        ("rag.document.ingested", "error"),
        ("rag.answered", "success"),
        ("rag.document.deleted", "success"),
        ("rag.collection.deleted", "success"),
    ]


async def test_remote_embedding_model_uses_the_tenants_key(stack: RunningStack, fakes: Fakes) -> None:
    tenant = tenant_id("rag-remote")
    with pytest.raises(grpc.aio.AioRpcError) as refused:  # no key yet: nothing is created
        await collection(stack, tenant, "remote", "openai/text-embedding-3-small")
    assert "no usable key" in refused.value.details()  # the router's own explanation, passed on
    listed = await rag(stack, "ListCollections", rag_pb2.ListCollectionsRequest(tenant_id=tenant), tenant)
    assert list(listed.collections) == []

    key = fake_key()
    await store_key(stack, tenant, "openai", key)
    col = await collection(stack, tenant, "remote", "openai/text-embedding-3-small")
    described = await rag(
        stack, "GetCollection", rag_pb2.GetCollectionRequest(tenant_id=tenant, collection_id=col), tenant
    )
    assert described.collection.dimensions == 1536  # learned from the model, not configured

    doc = await ingest(stack, tenant, col, "Solar panels on the depot roof produce 40 kilowatts.")
    results = await search(
        stack, tenant, col, "Solar panels on the depot roof produce 40 kilowatts.", mode=VECTOR
    )
    assert results[0].document_id == doc.document_id and results[0].score == pytest.approx(1.0, abs=1e-4)
    embeds = [r for r in fakes.requests("openai") if r["path"].endswith("/embeddings")]
    assert embeds and all(r["api_key"] == key for r in embeds[-3:])
    assert embeds[-1]["body"]["model"] == "text-embedding-3-small"
