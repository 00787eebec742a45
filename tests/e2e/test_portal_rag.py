"""portal-api's RAG endpoints (`/v1/rag/...`) on the real stack, over HTTP only: a tenant builds a
collection from a Markdown document (JSON) and a PDF (multipart upload), searches it, gets
answers that cite its chunks (plain and streamed) from a provider that echoes its prompt, and
deletes a document; another tenant sees none of it (404 everywhere); a read_only key reads
metadata but may not change, search or ask."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from keyrelay.common.testing.documents import pdf_with_pages
from tests.e2e.harness import RunningStack
from tests.e2e.providers import Fakes, running_fakes

pytestmark = pytest.mark.e2e

MODEL = "openai/gpt-4o-mini"
# The first ingest or search loads the local embedding model (seconds of CPU on a small machine).
TIMEOUT = 300.0
MARKDOWN = (
    "# Shipping\n\nParcels to **Iceland** take *nine* days by sea freight.\n\n"
    "## Returns\n\nReturned parcels are refunded within 14 days."
)
PDF_PAGES = (
    "Warranty claims for parcels need the serial number",
    "printed under the battery of the device.",
)


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    with running_fakes(echo=True) as running:
        yield running


def client(stack: RunningStack, token: str, **headers: str) -> httpx.Client:
    headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=stack.portal_url, headers=headers, timeout=TIMEOUT)


@dataclass
class Tenant:
    tenant_id: str
    writer: httpx.Client  # full_access
    reader: httpx.Client  # read_only


def new_tenant(stack: RunningStack, admin: httpx.Client, name: str) -> Tenant:
    tenant_id = f"{name}-{secrets.token_hex(3)}"
    created = admin.post("/v1/admin/tenants", json={"tenant_id": tenant_id, "name": name})
    assert created.status_code == 201, created.text
    keys = {}
    for role in ("full_access", "read_only"):
        issued = admin.post(f"/v1/admin/tenants/{tenant_id}/access-keys", json={"name": role, "role": role})
        assert issued.status_code == 201, issued.text
        keys[role] = issued.json()["key"]
    return Tenant(tenant_id, client(stack, keys["full_access"]), client(stack, keys["read_only"]))


@dataclass
class World:
    admin: httpx.Client
    a: Tenant
    b: Tenant


@pytest.fixture(scope="module")
def world(stack: RunningStack) -> Iterator[World]:
    admin = client(stack, (stack.data_dir / "admin-token").read_text().strip())
    a, b = new_tenant(stack, admin, "rag-a"), new_tenant(stack, admin, "rag-b")
    stored = a.writer.post(
        "/api/brain/tenant/api-keys",
        json={"service_id": "openai", "key_value": "sk-" + secrets.token_hex(24)},
    )
    assert stored.status_code == 200, stored.text
    yield World(admin, a, b)
    for http in (admin, a.writer, a.reader, b.writer, b.reader):
        http.close()


def sse_events(text: str) -> list[Any]:
    blocks = [block[6:] for block in text.split("\n\n") if block.startswith("data: ")]
    return [block if block == "[DONE]" else json.loads(block) for block in blocks]


def error_type(reply: httpx.Response) -> str:
    error = reply.json()["error"]
    assert set(error) == {"type", "message", "request_id"} and error["request_id"]
    return str(error["type"])


@dataclass
class Built:
    collection_id: str
    markdown_id: str
    pdf_id: str


@pytest.fixture(scope="module")
def built(world: World) -> Built:
    """Tenant A's collection with its two documents, made through the portal."""
    http = world.a.writer
    created = http.post("/v1/rag/collections", json={"name": "handbook"})
    assert created.status_code == 201, created.text
    collection = created.json()
    assert collection["embedding_model"] == "local/all-MiniLM-L6-v2" and collection["dimensions"] == 384
    assert collection["document_count"] == 0 and collection["created_at"]
    collection_id = collection["collection_id"]
    again = http.post("/v1/rag/collections", json={"name": "handbook"})
    assert again.status_code == 409 and error_type(again) == "already_exists"

    documents = f"/v1/rag/collections/{collection_id}/documents"
    markdown = {
        "title": "Shipping guide",
        "content": MARKDOWN,
        "content_type": "text/markdown",
        "metadata": {"team": "logistics"},
    }
    first = http.post(documents, json=markdown)
    assert first.status_code == 201, first.text
    stored = first.json()
    assert stored["status"] == "ready" and stored["chunks"] >= 1 and stored["created"] is True
    assert first.headers["location"] == f"{documents}/{stored['document_id']}"
    same = http.post(documents, json=markdown)
    assert same.status_code == 200 and same.json()["created"] is False
    assert same.json()["document_id"] == stored["document_id"]

    # A PDF upload sent as octet-stream: the filename gives its type and its title.
    pdf = http.post(
        documents,
        files={"file": ("warranty.pdf", pdf_with_pages(*PDF_PAGES), "application/octet-stream")},
        data={"metadata": json.dumps({"team": "support"})},
    )
    assert pdf.status_code == 201, pdf.text
    assert pdf.json()["status"] == "ready" and pdf.json()["chunks"] >= 1
    return Built(collection_id, stored["document_id"], pdf.json()["document_id"])


def test_documents_are_stored_as_sent_and_listed(world: World, built: Built) -> None:
    http = world.a.writer
    documents = f"/v1/rag/collections/{built.collection_id}/documents"
    pdf = http.get(f"{documents}/{built.pdf_id}")
    assert pdf.status_code == 200, pdf.text
    body = pdf.json()
    assert body["document_id"] == built.pdf_id and body["title"] == "warranty.pdf"
    assert body["content_type"] == "application/pdf" and body["metadata"] == {"team": "support"}
    assert body["status"] == "ready" and body["content_hash"].startswith("sha256:") and body["size_bytes"] > 0
    assert body["error"] is None and body["created_at"] and body["updated_at"]
    assert "content" not in body, "a document's metadata, never its text"

    listed = http.get(documents)
    assert listed.status_code == 200
    assert {d["document_id"] for d in listed.json()["documents"]} == {built.markdown_id, built.pdf_id}
    page = http.get(documents, params={"limit": 1})
    assert len(page.json()["documents"]) == 1 and page.json()["next_cursor"]
    rest = http.get(documents, params={"limit": 1, "cursor": page.json()["next_cursor"]})
    assert {d["document_id"] for d in page.json()["documents"] + rest.json()["documents"]} == {
        built.markdown_id,
        built.pdf_id,
    }
    collections = http.get("/v1/rag/collections").json()["collections"]
    assert [(c["collection_id"], c["document_count"]) for c in collections] == [(built.collection_id, 2)]


def test_hybrid_search_finds_both_documents_and_modes_and_filters_apply(world: World, built: Built) -> None:
    http = world.a.writer
    query = {"collection_id": built.collection_id, "query": "parcels Iceland warranty serial number"}
    hybrid = http.post("/v1/rag/search", json=query)
    assert hybrid.status_code == 200, hybrid.text
    results = hybrid.json()["results"]
    assert {r["document_id"] for r in results} == {built.markdown_id, built.pdf_id}
    assert all(
        set(r) == {"chunk_id", "document_id", "title", "text", "score", "chunk_index", "metadata"}
        for r in results
    )
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    by_doc = {r["document_id"]: r for r in results}
    assert "serial number" in by_doc[built.pdf_id]["text"] and by_doc[built.pdf_id]["title"] == "warranty.pdf"
    assert "Iceland" in by_doc[built.markdown_id]["text"] and "**" not in by_doc[built.markdown_id]["text"]

    keyword = http.post("/v1/rag/search", json={**query, "query": "battery", "mode": "keyword", "top_k": 1})
    assert [r["document_id"] for r in keyword.json()["results"]] == [built.pdf_id]
    filtered = http.post("/v1/rag/search", json={**query, "mode": "vector", "filters": {"team": "logistics"}})
    assert {r["document_id"] for r in filtered.json()["results"]} == {built.markdown_id}
    bad = http.post("/v1/rag/search", json={**query, "mode": "semantic"})
    assert bad.status_code == 422 and error_type(bad) == "invalid_request"


def test_answers_cite_the_chunks_plain_and_streamed(world: World, built: Built, fakes: Fakes) -> None:
    http = world.a.writer
    ask = {
        "collection_id": built.collection_id,
        "question": "How long do parcels to Iceland take?",
        "model": MODEL,
    }
    reply = http.post("/v1/rag/answer", json=ask)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["route"]["model"] == MODEL and answer["route"]["key_source"] == "tenant"
    assert answer["usage"]["total_tokens"] > 0 and answer["cost_usd"] > 0
    assert answer["citations"], answer["answer"]
    chunk_ids = {
        r["chunk_id"]: r
        for r in http.post("/v1/rag/search", json={**ask, "query": ask["question"], "top_k": 20}).json()[
            "results"
        ]
    }
    for citation in answer["citations"]:
        assert set(citation) == {"n", "document_id", "chunk_id", "title", "text"}
        assert (
            citation["chunk_id"] in chunk_ids and chunk_ids[citation["chunk_id"]]["text"] == citation["text"]
        )
        assert citation["document_id"] in (built.markdown_id, built.pdf_id)
        # The echoing provider repeats the numbered context: each [n] is followed by its source.
        assert citation["text"] in answer["answer"].split(f"[{citation['n']}]", 1)[1]
    assert built.markdown_id in {c["document_id"] for c in answer["citations"]}
    sent = json.dumps(fakes.requests("openai")[-1]["body"])
    assert "How long do parcels to Iceland take?" in sent

    streamed = http.post("/v1/rag/answer", json={**ask, "stream": True})
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed.text)
    assert events[-1] == "[DONE]"
    deltas, final = events[:-2], events[-2]
    assert deltas and all(set(e) == {"delta"} for e in deltas)
    assert "".join(e["delta"] for e in deltas) == answer["answer"]
    assert final["done"] is True and final["finish_reason"]
    assert [c["chunk_id"] for c in final["citations"]] == [c["chunk_id"] for c in answer["citations"]]
    assert final["route"]["model"] == MODEL and final["usage"]["total_tokens"] > 0 and final["cost_usd"] > 0

    # What fails before any output is an HTTP error, not an event.
    unknown = http.post("/v1/rag/answer", json={**ask, "model": "openai/no-such-model", "stream": True})
    assert unknown.status_code in (400, 404) and unknown.headers["content-type"].startswith(
        "application/json"
    )


def test_another_tenant_gets_404_for_every_rag_endpoint(world: World, built: Built) -> None:
    b = world.b.writer
    col, doc = built.collection_id, built.pdf_id
    documents = f"/v1/rag/collections/{col}/documents"
    attempts = {
        "get collection": b.get(f"/v1/rag/collections/{col}"),
        "list documents": b.get(documents),
        "get document": b.get(f"{documents}/{doc}"),
        "ingest json": b.post(documents, json={"title": "planted", "content": "planted text"}),
        "ingest file": b.post(documents, files={"file": ("planted.txt", b"planted text", "text/plain")}),
        "search": b.post("/v1/rag/search", json={"collection_id": col, "query": "parcels"}),
        "answer": b.post(
            "/v1/rag/answer", json={"collection_id": col, "question": "parcels?", "model": MODEL}
        ),
        "stream": b.post(
            "/v1/rag/answer",
            json={"collection_id": col, "question": "parcels?", "model": MODEL, "stream": True},
        ),
        "delete document": b.delete(f"{documents}/{doc}"),
        "delete collection": b.delete(f"/v1/rag/collections/{col}"),
    }
    for name, reply in attempts.items():
        assert reply.status_code == 404, (name, reply.status_code, reply.text)
        assert error_type(reply) == "not_found", name
        assert "Iceland" not in reply.text and "warranty" not in reply.text, name

    own = b.post("/v1/rag/collections", json={"name": "handbook"})  # the same name, another tenant
    assert own.status_code == 201
    listed = b.get("/v1/rag/collections").json()["collections"]
    assert [c["collection_id"] for c in listed] == [own.json()["collection_id"]]
    # A's collection is untouched.
    assert world.a.reader.get(documents).json()["count"] == 2

    # The platform admin acts for a tenant it names, and only then.
    admin = world.admin
    named = admin.get("/v1/rag/collections", headers={"X-Tenant-ID": world.a.tenant_id})
    assert [c["collection_id"] for c in named.json()["collections"]] == [col]
    unnamed = admin.get("/v1/rag/collections")
    assert unnamed.status_code == 400 and "X-Tenant-ID" in unnamed.json()["error"]["message"]


def test_read_only_reads_metadata_but_may_not_change_search_or_ask(world: World, built: Built) -> None:
    reader = world.a.reader
    col, doc = built.collection_id, built.markdown_id
    documents = f"/v1/rag/collections/{col}/documents"
    for path in ("/v1/rag/collections", f"/v1/rag/collections/{col}", documents, f"{documents}/{doc}"):
        reply = reader.get(path)
        assert reply.status_code == 200, (path, reply.text)
    refused = {
        "create": reader.post("/v1/rag/collections", json={"name": "mine"}),
        "ingest": reader.post(documents, json={"title": "t", "content": "text"}),
        "upload": reader.post(documents, files={"file": ("a.txt", b"text", "text/plain")}),
        "delete document": reader.delete(f"{documents}/{doc}"),
        "delete collection": reader.delete(f"/v1/rag/collections/{col}"),
        "search": reader.post("/v1/rag/search", json={"collection_id": col, "query": "parcels"}),
        "answer": reader.post("/v1/rag/answer", json={"collection_id": col, "question": "parcels?"}),
    }
    for name, reply in refused.items():
        assert reply.status_code == 403, (name, reply.text)
        assert error_type(reply) == "permission_denied", name
    assert world.a.writer.get(documents).json()["count"] == 2


def test_a_document_over_the_limit_is_413(world: World, built: Built) -> None:
    documents = f"/v1/rag/collections/{built.collection_id}/documents"
    big = b"A" * (20_000_000 + 1)
    upload = world.a.writer.post(documents, files={"file": ("big.txt", big, "text/plain")})
    assert upload.status_code == 413 and error_type(upload) == "payload_too_large"
    as_json = world.a.writer.post(documents, json={"title": "big", "content": big.decode()})
    assert as_json.status_code == 413 and error_type(as_json) == "payload_too_large"
    # A body larger than any document and its envelope is refused before it is read.
    huge = world.a.writer.post(
        documents, content=b" " * 30_000_000, headers={"Content-Type": "application/json"}
    )
    assert huge.status_code == 413 and error_type(huge) == "payload_too_large"
    assert world.a.writer.get(documents).json()["count"] == 2


def test_a_deleted_document_is_gone_and_no_longer_found(world: World, built: Built) -> None:
    http = world.a.writer
    documents = f"/v1/rag/collections/{built.collection_id}/documents"
    deleted = http.delete(f"{documents}/{built.pdf_id}")
    assert deleted.status_code == 204 and deleted.content == b""
    gone = http.get(f"{documents}/{built.pdf_id}")
    assert gone.status_code == 404 and error_type(gone) == "not_found"
    assert http.delete(f"{documents}/{built.pdf_id}").status_code == 404
    search = http.post(
        "/v1/rag/search", json={"collection_id": built.collection_id, "query": "warranty serial battery"}
    )
    assert built.pdf_id not in {r["document_id"] for r in search.json()["results"]}
    assert [d["document_id"] for d in http.get(documents).json()["documents"]] == [built.markdown_id]

    dropped = http.delete(f"/v1/rag/collections/{built.collection_id}")
    assert dropped.status_code == 204
    assert http.get(f"/v1/rag/collections/{built.collection_id}").status_code == 404
    assert http.get("/v1/rag/collections").json()["collections"] == []
