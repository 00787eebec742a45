"""The RAG routes (`/v1/rag/...`) against a fake rag-svc: validation, body limits, the mapping of
requests and answers, status codes, roles, SSE answers and their spend."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import grpc
import httpx
import pytest
from fastapi import FastAPI

from keyrelay.common.errors import ERROR_TYPE_METADATA
from keyrelay.common.http_errors import install_error_handlers
from keyrelay.portal.adapters.metrics import Metrics, install_metrics
from keyrelay.portal.deps import authenticate, get_clients
from keyrelay.portal.domain import rag_wire as wire
from keyrelay.portal.domain.auth import Caller
from keyrelay.portal.routes import rag
from keyrelay.v1 import common_pb2, rag_pb2

TENANT = "acme"
COL = "col_0123456789abcdef01234567"
DOC = "doc_89abcdef0123456789abcdef"
WRITER = Caller("access_key", TENANT, "full_access", "ak_writer", 60)
READER = Caller("access_key", TENANT, "read_only", "ak_reader")
MODEL = "openai/gpt-4o-mini"


class FakeStream:
    def __init__(self, *messages: Any) -> None:
        self.messages = list(messages)
        self.cancelled = False

    async def read(self) -> Any:
        if not self.messages:
            return grpc.aio.EOF
        message = self.messages.pop(0)
        if isinstance(message, BaseException):
            raise message
        return message

    def cancel(self) -> None:
        self.cancelled = True


class FakeRag:
    """rag-svc: each method answers (or raises) `answers[name]` and keeps the requests it got."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.requests: dict[str, list[Any]] = {}
        self.streams: list[FakeStream] = []

    def __getattr__(self, name: str) -> Any:
        if name.endswith("Stream"):

            def open_call(request: Any, *, metadata: Any, timeout: float) -> FakeStream:
                self.requests.setdefault(name, []).append(request)
                self.streams.append(self.answers[name])
                return self.answers[name]

            return open_call

        async def call(request: Any, *, metadata: Any, timeout: float) -> Any:
            self.requests.setdefault(name, []).append(request)
            answer = self.answers[name]
            if isinstance(answer, BaseException):
                raise answer
            return answer

        return call

    def last(self, name: str) -> Any:
        return self.requests[name][-1]


def rpc_error(code: grpc.StatusCode, error_type: str | None = None) -> grpc.aio.AioRpcError:
    trailers = grpc.aio.Metadata(*([(ERROR_TYPE_METADATA, error_type)] if error_type else []))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailers, "rag-svc says no")


class Env:
    def __init__(self) -> None:
        self.app = FastAPI()
        install_error_handlers(self.app)
        self.metrics: Metrics = install_metrics(self.app)
        self.app.include_router(rag.router)
        self.rag = FakeRag()
        self.caller = WRITER
        clients = SimpleNamespace(
            rag=self.rag, settings=SimpleNamespace(portal_upstream_timeout_seconds=30.0)
        )
        self.app.dependency_overrides[get_clients] = lambda: clients
        self.app.dependency_overrides[authenticate] = lambda: self.caller

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url="http://portal.test")


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    yield Env()


def collection(name: str = "docs") -> rag_pb2.Collection:
    c = rag_pb2.Collection(
        collection_id=COL, tenant_id=TENANT, name=name, embedding_model=wire.DEFAULT_EMBEDDING_MODEL
    )
    c.dimensions, c.document_count = 384, 2
    c.created_at.FromSeconds(1_750_000_000)
    return c


def ingested(status: int, created: bool = True, chunks: int = 3, job_id: str = "") -> Any:
    return rag_pb2.IngestDocumentResponse(
        document_id=DOC, status=status, chunks=chunks, created=created, job_id=job_id
    )


def error_of(reply: httpx.Response) -> dict[str, Any]:
    body = reply.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message", "request_id"}
    return body["error"]  # type: ignore[no-any-return]


DOCS = f"/v1/rag/collections/{COL}/documents"


# -- collections --------------------------------------------------------------------------------


async def test_a_collection_is_created_with_201_and_the_default_local_model(env: Env) -> None:
    env.rag.answers["CreateCollection"] = rag_pb2.CreateCollectionResponse(collection=collection())
    async with env.client() as http:
        reply = await http.post("/v1/rag/collections", json={"name": "docs", "extra": 1})
        missing = await http.post("/v1/rag/collections", json={"embedding_model": "local/all-MiniLM-L6-v2"})
        odd_name = await http.post("/v1/rag/collections", json={"name": "../etc"})
    assert reply.status_code == 201
    assert reply.json() == {
        "collection_id": COL,
        "name": "docs",
        "embedding_model": "local/all-MiniLM-L6-v2",
        "dimensions": 384,
        "created_at": "2025-06-15T15:06:40+00:00",
        "document_count": 2,
    }
    sent = env.rag.last("CreateCollection")
    assert (sent.tenant_id, sent.name, sent.embedding_model) == (TENANT, "docs", "local/all-MiniLM-L6-v2")
    assert missing.status_code == 422 and "name" in error_of(missing)["message"]
    assert odd_name.status_code == 422 and "name" in error_of(odd_name)["message"]
    assert len(env.rag.requests["CreateCollection"]) == 1


async def test_collections_and_documents_are_listed_a_page_at_a_time(env: Env) -> None:
    env.rag.answers["ListCollections"] = rag_pb2.ListCollectionsResponse(
        collections=[collection()], page=common_pb2.PageResponse(next_page_token="2")
    )
    document = rag_pb2.Document(
        document_id=DOC,
        collection_id=COL,
        title="Guide",
        content_type="text/markdown",
        metadata={"team": "ops"},
        content_hash="sha256:ab",
        size_bytes=42,
        status=rag_pb2.DOCUMENT_STATUS_FAILED,
        error="no extractable text",
    )
    env.rag.answers["ListDocuments"] = rag_pb2.ListDocumentsResponse(documents=[document])
    async with env.client() as http:
        first = await http.get("/v1/rag/collections", params={"limit": 2})
        later = await http.get("/v1/rag/collections", params={"cursor": "2"})
        too_many = await http.get("/v1/rag/collections", params={"limit": 5000})
        docs = await http.get(DOCS)
    assert first.status_code == 200 and first.json()["next_cursor"] == "2" and first.json()["count"] == 1
    assert [c["collection_id"] for c in first.json()["collections"]] == [COL]
    pages = [r.page for r in env.rag.requests["ListCollections"]]
    assert [(p.page_size, p.page_token) for p in pages] == [(2, ""), (50, "2")]
    assert later.status_code == 200 and too_many.status_code == 422
    assert docs.status_code == 200 and docs.json()["next_cursor"] is None
    assert docs.json()["documents"] == [
        {
            "document_id": DOC,
            "collection_id": COL,
            "title": "Guide",
            "content_type": "text/markdown",
            "metadata": {"team": "ops"},
            "source_uri": None,
            "content_hash": "sha256:ab",
            "size_bytes": 42,
            "status": "failed",
            "chunks": 0,
            "error": "no extractable text",
            "created_at": None,
            "updated_at": None,
        }
    ]


# -- ingestion --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (ingested(rag_pb2.DOCUMENT_STATUS_READY), 201),
        (ingested(rag_pb2.DOCUMENT_STATUS_READY, created=False), 200),
        (ingested(rag_pb2.DOCUMENT_STATUS_PENDING, chunks=0, job_id="job_1"), 202),
    ],
)
async def test_ingesting_json_answers_201_created_200_already_there_202_in_the_background(
    env: Env, answer: Any, status: int
) -> None:
    env.rag.answers["IngestDocument"] = answer
    body = {
        "title": "Guide",
        "content": "# Shipping\n\nParcels take *nine* days.",
        "content_type": "text/markdown",
        "metadata": {"team": "ops"},
        "source_uri": "kb://guide",
    }
    async with env.client() as http:
        reply = await http.post(DOCS, json=body)
    assert reply.status_code == status, reply.text
    assert reply.json() == {
        "document_id": DOC,
        "status": wire.status_name(answer.status),
        "chunks": answer.chunks,
        "created": answer.created,
        "job_id": answer.job_id or None,
    }
    assert reply.headers["location"] == f"{DOCS}/{DOC}"
    sent = env.rag.last("IngestDocument")
    assert sent.WhichOneof("body") == "text" and sent.text == body["content"]
    assert (sent.tenant_id, sent.collection_id, sent.title) == (TENANT, COL, "Guide")
    assert (sent.content_type, dict(sent.metadata), sent.source_uri) == (
        "text/markdown",
        {"team": "ops"},
        "kb://guide",
    )


async def test_a_multipart_upload_sends_the_file_bytes_with_a_content_type(env: Env) -> None:
    env.rag.answers["IngestDocument"] = ingested(rag_pb2.DOCUMENT_STATUS_READY)
    pdf = b"%PDF-1.4 not really"
    async with env.client() as http:
        # A file sent as octet-stream: its name says what it is; title defaults to the name.
        guessed = await http.post(
            DOCS,
            files={"file": ("C:\\reports\\q3.pdf", pdf, "application/octet-stream")},
            data={"metadata": json.dumps({"quarter": "q3"}), "title": ""},
        )
        by_header = await http.post(
            DOCS, files={"file": ("notes", b"plain words", "text/plain; charset=utf-8")}
        )
        explicit = await http.post(
            DOCS,
            files={"file": ("page.txt", b"<p>hi</p>", "text/plain")},
            data={"content_type": "text/html", "title": "Home", "source_uri": "https://example.test/"},
        )
    assert [r.status_code for r in (guessed, by_header, explicit)] == [201, 201, 201]
    first, second, third = env.rag.requests["IngestDocument"]
    assert first.WhichOneof("body") == "content" and first.content == pdf
    assert (first.content_type, first.title, dict(first.metadata)) == (
        "application/pdf",
        "q3.pdf",
        {"quarter": "q3"},
    )
    assert (second.content_type, second.title) == ("text/plain; charset=utf-8", "notes")
    assert (third.content_type, third.title, third.source_uri) == (
        "text/html",
        "Home",
        "https://example.test/",
    )


def test_an_uploads_content_type_comes_from_the_form_the_file_or_its_name() -> None:
    guess = wire.upload_content_type
    assert guess("text/markdown", "application/pdf", "a.pdf") == "text/markdown"
    assert guess(None, "application/pdf", "a.txt") == "application/pdf"
    assert guess(None, "text/x-markdown", "a") == "text/markdown"
    assert guess(None, "application/octet-stream", "Report.PDF") == "application/pdf"
    assert guess(None, None, "index.htm") == "text/html" and guess(None, "", "README.md") == "text/markdown"
    assert guess(None, None, "notes.txt") == "text/plain"
    assert guess(None, "application/octet-stream", "photo.png") == "application/octet-stream"
    assert guess(None, None, None) == "application/octet-stream"


async def test_a_missing_or_malformed_field_is_422_and_nothing_is_sent(env: Env) -> None:
    async with env.client() as http:
        answers = [
            await http.post(DOCS, json={"title": "no content"}),
            await http.post(DOCS, json={"content": "no title"}),
            await http.post(DOCS, json={"title": "t", "content": "x", "metadata": {"n": 1}}),
            await http.post(DOCS, content=b"{not json", headers={"content-type": "application/json"}),
            await http.post(DOCS, content=b"[]", headers={"content-type": "application/json"}),
            await http.post(DOCS, files={"other": ("a.txt", b"x", "text/plain")}),
            await http.post(DOCS, data={"title": "a form without a file"}, files={"x": ("", b"")}),
            await http.post(DOCS, files={"file": ("a.txt", b"x")}, data={"metadata": "not json"}),
            await http.post(DOCS, files={"file": ("a.txt", b"x")}, data={"metadata": '{"n": 1}'}),
            await http.post(DOCS, json={"title": "t\x00", "content": "x"}),
        ]
    for reply in answers:
        assert reply.status_code == 422, reply.text
        assert error_of(reply)["type"] == "invalid_request"
    assert "content" in error_of(answers[0])["message"] and "file" in error_of(answers[5])["message"]
    assert "metadata" in error_of(answers[7])["message"]
    assert "IngestDocument" not in env.rag.requests


async def test_a_document_over_the_limit_is_413_however_it_is_sent(env: Env) -> None:
    env.rag.answers["IngestDocument"] = ingested(rag_pb2.DOCUMENT_STATUS_PENDING)
    too_big = "x" * (wire.MAX_DOCUMENT_BYTES + 1)

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"title": "t", "content": "'
        for _ in range(wire.MAX_BODY_BYTES // 1_000_000 + 1):
            yield b"y" * 1_000_000
        yield b'"}'

    async with env.client() as http:
        answers = [
            await http.post(DOCS, json={"title": "big", "content": too_big}),
            await http.post(DOCS, files={"file": ("big.txt", too_big.encode(), "text/plain")}),
            await http.post(DOCS, content=chunked(), headers={"content-type": "application/json"}),
            await http.post(
                DOCS,
                content=b"{}",
                headers={"content-type": "application/json", "content-length": str(wire.MAX_BODY_BYTES + 1)},
            ),
        ]
        exactly = await http.post(DOCS, json={"title": "t", "content": "z" * wire.MAX_DOCUMENT_BYTES})
    for reply in answers:
        assert reply.status_code == 413, reply.text[:300]
        error = error_of(reply)
        assert error["type"] == "payload_too_large" and str(wire.MAX_DOCUMENT_BYTES) in error["message"]
    assert exactly.status_code == 202
    assert len(env.rag.requests["IngestDocument"]) == 1


async def test_a_body_that_is_neither_json_nor_a_form_is_415(env: Env) -> None:
    async with env.client() as http:
        reply = await http.post(DOCS, content=b"hello", headers={"content-type": "text/plain"})
        broken = await http.post(
            DOCS, content=b"--x\r\nnot a part", headers={"content-type": "multipart/form-data"}
        )
    assert reply.status_code == 415 and error_of(reply)["type"] == "unsupported_media_type"
    assert broken.status_code == 400 and "multipart" in error_of(broken)["message"]


async def test_documents_are_read_and_deleted_and_malformed_ids_are_404_without_a_call(env: Env) -> None:
    env.rag.answers["GetDocument"] = rag_pb2.GetDocumentResponse(
        document=rag_pb2.Document(document_id=DOC, collection_id=COL, status=rag_pb2.DOCUMENT_STATUS_READY)
    )
    env.rag.answers["DeleteDocument"] = rag_pb2.DeleteDocumentResponse()
    env.rag.answers["DeleteCollection"] = rag_pb2.DeleteCollectionResponse()
    async with env.client() as http:
        got = await http.get(f"{DOCS}/{DOC}")
        deleted = await http.delete(f"{DOCS}/{DOC}")
        dropped = await http.delete(f"/v1/rag/collections/{COL}")
        env.rag.answers["GetDocument"] = rpc_error(grpc.StatusCode.NOT_FOUND)
        gone = await http.get(f"{DOCS}/{DOC}")
        calls = sum(len(v) for v in env.rag.requests.values())
        odd = [
            await http.get(f"{DOCS}/doc%00x"),
            await http.get(f"/v1/rag/collections/{'c' * 101}"),
            await http.delete("/v1/rag/collections/caf%C3%A9"),
            await http.post("/v1/rag/search", json={"collection_id": "../x", "query": "q"}),
        ]
    assert got.status_code == 200 and got.json()["status"] == "ready" and got.json()["document_id"] == DOC
    assert deleted.status_code == 204 and deleted.content == b""
    assert dropped.status_code == 204 and dropped.content == b""
    assert gone.status_code == 404 and error_of(gone)["type"] == "not_found"
    assert [r.status_code for r in odd] == [404, 404, 404, 404]
    assert sum(len(v) for v in env.rag.requests.values()) == calls, "nothing reached rag-svc"


# -- search and answers -------------------------------------------------------------------------


async def test_search_maps_the_mode_and_answers_each_chunk(env: Env) -> None:
    result = rag_pb2.SearchResult(
        chunk_id="chk_1",
        document_id=DOC,
        title="Guide",
        text="Parcels take nine days.",
        score=0.5,
        metadata={"team": "ops"},
        chunk_index=2,
    )
    env.rag.answers["Search"] = rag_pb2.SearchResponse(results=[result])
    base = {"collection_id": COL, "query": "parcels"}
    async with env.client() as http:
        replies = [
            await http.post("/v1/rag/search", json=base),
            await http.post("/v1/rag/search", json={**base, "mode": "vector", "top_k": 3}),
            await http.post("/v1/rag/search", json={**base, "mode": "keyword", "filters": {"team": "ops"}}),
            await http.post("/v1/rag/search", json={**base, "mode": "hybrid"}),
        ]
        bad = [
            await http.post("/v1/rag/search", json={**base, "mode": "semantic"}),
            await http.post("/v1/rag/search", json={**base, "top_k": 0}),
            await http.post("/v1/rag/search", json={**base, "top_k": 101}),
            await http.post("/v1/rag/search", json={"collection_id": COL}),
        ]
    assert all(r.status_code == 200 for r in replies)
    assert replies[0].json() == {
        "results": [
            {
                "chunk_id": "chk_1",
                "document_id": DOC,
                "title": "Guide",
                "text": "Parcels take nine days.",
                "score": 0.5,
                "chunk_index": 2,
                "metadata": {"team": "ops"},
            }
        ]
    }
    sent = env.rag.requests["Search"]
    assert [r.mode for r in sent] == [
        rag_pb2.SEARCH_MODE_HYBRID,
        rag_pb2.SEARCH_MODE_VECTOR,
        rag_pb2.SEARCH_MODE_KEYWORD,
        rag_pb2.SEARCH_MODE_HYBRID,
    ]
    assert [r.top_k for r in sent] == [0, 3, 0, 0] and dict(sent[2].filters) == {"team": "ops"}
    assert {(r.tenant_id, r.collection_id, r.query) for r in sent} == {(TENANT, COL, "parcels")}
    assert [r.status_code for r in bad] == [422, 422, 422, 422]


def citation(n: int) -> rag_pb2.Citation:
    return rag_pb2.Citation(n=n, document_id=DOC, chunk_id=f"chk_{n}", title="Guide", text=f"source {n}")


def priced_route() -> common_pb2.Route:
    return common_pb2.Route(
        provider="openai", model=MODEL, key_source=common_pb2.KEY_SOURCE_TENANT, reason="explicit"
    )


def spend(metrics: Metrics) -> float:
    return (
        metrics.registry.get_sample_value("keyrelay_spend_usd_total", {"provider": "openai", "task": "rag"})
        or 0.0
    )


async def test_an_answer_forwards_the_access_key_and_records_its_cost(env: Env) -> None:
    env.rag.answers["Answer"] = rag_pb2.AnswerResponse(
        answer="Nine days [1].",
        citations=[citation(1)],
        usage=common_pb2.Usage(prompt_tokens=50, completion_tokens=5),
        cost_usd=0.0015,
        cost_micros=1_500,
        route=priced_route(),
    )
    async with env.client() as http:
        reply = await http.post(
            "/v1/rag/answer", json={"collection_id": COL, "question": "How long?", "model": MODEL, "top_k": 4}
        )
    assert reply.status_code == 200
    body = reply.json()
    assert body["answer"] == "Nine days [1]."
    assert body["citations"] == [
        {"n": 1, "document_id": DOC, "chunk_id": "chk_1", "title": "Guide", "text": "source 1"}
    ]
    assert body["usage"] == {
        "prompt_tokens": 50,
        "completion_tokens": 5,
        "total_tokens": 55,
        "estimated": False,
    }
    assert body["cost_usd"] == 0.0015 and body["route"]["key_source"] == "tenant"
    assert body["route"]["model"] == MODEL and body["route"]["provider"] == "openai"
    sent = env.rag.last("Answer")
    assert (sent.tenant_id, sent.collection_id, sent.question, sent.model, sent.top_k) == (
        TENANT,
        COL,
        "How long?",
        MODEL,
        4,
    )
    assert (sent.access_key_id, sent.access_key_rate_limit) == ("ak_writer", 60)
    assert spend(env.metrics) == pytest.approx(0.0015)


def sse_events(text: str) -> list[Any]:
    lines = [block[6:] for block in text.split("\n\n") if block.startswith("data: ")]
    return [line if line == "[DONE]" else json.loads(line) for line in lines]


async def test_a_streamed_answer_is_deltas_then_one_final_event_then_done(env: Env) -> None:
    final = rag_pb2.AnswerStreamFinal(
        citations=[citation(1)],
        finish_reason="stop",
        usage=common_pb2.Usage(prompt_tokens=9, completion_tokens=3, total_tokens=12),
        cost_usd=0.0002,
        cost_micros=200,
        route=priced_route(),
    )
    env.rag.answers["AnswerStream"] = FakeStream(
        rag_pb2.AnswerStreamChunk(delta="Nine "),
        rag_pb2.AnswerStreamChunk(delta="days [1]."),
        rag_pb2.AnswerStreamChunk(final=final),
    )
    async with env.client() as http:
        reply = await http.post(
            "/v1/rag/answer", json={"collection_id": COL, "question": "q", "stream": True}
        )
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
    events = sse_events(reply.text)
    assert events[:2] == [{"delta": "Nine "}, {"delta": "days [1]."}] and events[-1] == "[DONE]"
    last = events[2]
    assert last["done"] is True and last["finish_reason"] == "stop"
    assert [c["chunk_id"] for c in last["citations"]] == ["chk_1"] and last["usage"]["total_tokens"] == 12
    assert last["route"]["model"] == MODEL and last["cost_usd"] == 0.0002
    assert len(events) == 4
    assert env.rag.last("AnswerStream").access_key_id == "ak_writer"
    assert spend(env.metrics) == pytest.approx(0.0002)
    assert all(s.cancelled for s in env.rag.streams), "the stream is released"


async def test_a_stream_failing_before_output_is_an_http_error_and_after_it_an_error_event(env: Env) -> None:
    body = {"collection_id": COL, "question": "q", "stream": True}
    async with env.client() as http:
        env.rag.answers["AnswerStream"] = FakeStream(rpc_error(grpc.StatusCode.NOT_FOUND))
        early = await http.post("/v1/rag/answer", json=body)
        env.rag.answers["AnswerStream"] = FakeStream(
            rag_pb2.AnswerStreamChunk(delta="Nine"), rpc_error(grpc.StatusCode.UNAVAILABLE)
        )
        late = await http.post("/v1/rag/answer", json=body)
        env.rag.answers["AnswerStream"] = FakeStream(rag_pb2.AnswerStreamChunk(delta="cut"))
        cut = await http.post("/v1/rag/answer", json=body)
    assert early.status_code == 404 and error_of(early)["type"] == "not_found"
    assert late.status_code == 200
    events = sse_events(late.text)
    assert (
        events[0] == {"delta": "Nine"}
        and events[1]["error"]["type"] == "unavailable"
        and events[2] == "[DONE]"
    )
    assert sse_events(cut.text)[1]["error"]["type"] == "upstream_error"
    assert spend(env.metrics) == 0


# -- roles and tenants --------------------------------------------------------------------------


async def test_read_only_reads_metadata_but_may_not_change_search_or_ask(env: Env) -> None:
    env.caller = READER
    env.rag.answers["ListCollections"] = rag_pb2.ListCollectionsResponse()
    env.rag.answers["GetCollection"] = rag_pb2.GetCollectionResponse(collection=collection())
    env.rag.answers["ListDocuments"] = rag_pb2.ListDocumentsResponse()
    env.rag.answers["GetDocument"] = rag_pb2.GetDocumentResponse(document=rag_pb2.Document(document_id=DOC))
    async with env.client() as http:
        reads = [
            await http.get("/v1/rag/collections"),
            await http.get(f"/v1/rag/collections/{COL}"),
            await http.get(DOCS),
            await http.get(f"{DOCS}/{DOC}"),
        ]
        writes = [
            await http.post("/v1/rag/collections", json={"name": "docs"}),
            await http.delete(f"/v1/rag/collections/{COL}"),
            await http.post(DOCS, json={"title": "t", "content": "c"}),
            await http.delete(f"{DOCS}/{DOC}"),
            await http.post("/v1/rag/search", json={"collection_id": COL, "query": "q"}),
            await http.post("/v1/rag/answer", json={"collection_id": COL, "question": "q"}),
        ]
    assert [r.status_code for r in reads] == [200] * 4
    assert [r.status_code for r in writes] == [403] * 6
    assert all(error_of(r)["type"] == "permission_denied" for r in writes)
    assert set(env.rag.requests) == {"ListCollections", "GetCollection", "ListDocuments", "GetDocument"}
    assert {r.tenant_id for calls in env.rag.requests.values() for r in calls} == {TENANT}


async def test_the_platform_admin_must_name_a_tenant(env: Env) -> None:
    env.caller = Caller("admin", None, "admin")
    async with env.client() as http:
        reply = await http.get("/v1/rag/collections")
    assert reply.status_code == 400 and "X-Tenant-ID" in error_of(reply)["message"]
    assert env.rag.requests == {}
