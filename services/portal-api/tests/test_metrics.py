"""`/metrics`: request counts and latencies by route template, upstream errors, spend, no raw ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import grpc
import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from prometheus_client.parser import text_string_to_metric_families

from keyrelay.common.errors import ERROR_TYPE_METADATA, Unavailable, UpstreamError
from keyrelay.common.http_errors import install_error_handlers
from keyrelay.portal.adapters.access_keys import AccessKeyVerifier
from keyrelay.portal.adapters.metrics import (
    Metrics,
    install_metrics,
    provider_of,
    record_spend,
    record_upstream_error,
    task_label,
)
from keyrelay.portal.app import create_app
from keyrelay.portal.config import PortalSettings
from keyrelay.portal.deps import authenticate, get_clients
from keyrelay.portal.domain.auth import Caller
from keyrelay.portal.routes import keys, models, openai, operations, tenant
from keyrelay.v1 import common_pb2, router_pb2

TENANT = "acme-secret-tenant"
KEY_ID = "k_3f9a7c1e55"


def small_app() -> tuple[FastAPI, Metrics]:
    app = FastAPI()
    install_error_handlers(app)
    metrics = install_metrics(app)
    app.include_router(operations.router)

    @app.get("/api/brain/tenant/api-keys/{key_id}")
    async def get_key(key_id: str) -> dict[str, str]:
        return {"key_id": key_id}

    @app.post("/api/brain/portal/tenant/{tenant_id}/api-keys/test")
    async def upstream_fails(tenant_id: str) -> None:
        raise UpstreamError("the provider failed")

    @app.post("/v1/chat/completions")
    async def router_down() -> None:
        record_upstream_error("router", grpc.StatusCode.UNAVAILABLE)
        raise Unavailable("llm-router-svc is unreachable")

    @app.get("/boom/{thing}")
    async def boom(thing: str) -> None:
        raise RuntimeError("bug")

    @app.get("/v1/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"a"
            yield b"b"

        return StreamingResponse(chunks())

    return app, metrics


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://portal.test")


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_requests_are_counted_and_timed_by_route_template() -> None:
    app, metrics = small_app()
    async with client(app) as http:
        for _ in range(2):
            assert (await http.get(f"/api/brain/tenant/api-keys/{KEY_ID}")).status_code == 200
        assert (await http.get("/api/brain/tenant/api-keys/another")).status_code == 200
        assert (await http.get(f"/nothing/here/{TENANT}")).status_code == 404
        assert (await http.delete("/healthz")).status_code == 405
        assert (await http.get("/v1/stream")).text == "ab"
        text = (await http.get("/metrics")).text

    route = "/api/brain/tenant/api-keys/{key_id}"
    total = "keyrelay_http_requests_total"
    assert sample(metrics, total, method="GET", route=route, status="200") == 3
    assert sample(metrics, total, method="GET", route="unmatched", status="404") == 1
    assert sample(metrics, total, method="DELETE", route="/healthz", status="405") == 1
    assert sample(metrics, total, method="GET", route="/v1/stream", status="200") == 1
    count = "keyrelay_http_request_duration_seconds_count"
    assert sample(metrics, count, method="GET", route=route) == 3
    assert sample(metrics, "keyrelay_http_request_duration_seconds_sum", method="GET", route=route) > 0

    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {"keyrelay_http_requests", "keyrelay_http_request_duration_seconds"} <= families.keys()
    for raw in (KEY_ID, "another", TENANT, "/nothing"):
        assert raw not in text, f"{raw!r} leaked into /metrics"


async def test_upstream_errors_are_counted_once_explicitly_or_by_the_fallback() -> None:
    app, metrics = small_app()
    async with client(app) as http:
        assert (await http.post("/v1/chat/completions")).status_code == 503
        assert (await http.post(f"/api/brain/portal/tenant/{TENANT}/api-keys/test")).status_code == 502
        assert (await http.get("/boom/x")).status_code == 500
        text = (await http.get("/metrics")).text

    errors = "keyrelay_upstream_errors_total"
    assert sample(metrics, errors, service="router", code="UNAVAILABLE") == 1  # recorded, not doubled
    assert sample(metrics, errors, service="keyvault", code="UNKNOWN") == 1  # fallback: 502 on a keys route
    assert sample(metrics, errors, service="portal", code="INTERNAL") == 1  # fallback: the unhandled error
    assert (
        sample(metrics, "keyrelay_http_requests_total", method="GET", route="/boom/{thing}", status="500")
        == 1
    )
    assert TENANT not in text


def test_record_upstream_error_outside_a_request_is_a_no_op() -> None:
    record_upstream_error("router", grpc.StatusCode.INTERNAL)


async def test_each_portal_app_has_its_own_registry_and_metrics_need_no_credentials() -> None:
    first, second = create_app(PortalSettings()), create_app(PortalSettings())
    async with client(first) as http:
        assert (await http.get("/healthz")).status_code == 200
        answer = await http.get("/metrics")  # no Authorization header
        assert (await http.get(f"/api/brain/byok/tenant/{TENANT}/keys")).status_code in (401, 500)
        again = (await http.get("/metrics")).text
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert answer.headers["x-request-id"]
    assert 'keyrelay_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in answer.text
    assert 'route="/api/brain/byok/tenant/{tenant_id}/keys"' in again and TENANT not in again

    async with client(second) as http:
        text = (await http.get("/metrics")).text
    assert 'route="/healthz"' not in text, "a second app starts from zero"


# -- spend and upstream errors through the real routes, against fake backends -------------

CALLER = Caller("access_key", TENANT, "full_access", KEY_ID, 30)


def rpc_error(code: grpc.StatusCode, error_type: str | None = None) -> grpc.aio.AioRpcError:
    trailers = grpc.aio.Metadata(*([(ERROR_TYPE_METADATA, error_type)] if error_type else []))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailers, "the service says no")


def priced_route(provider: str, model: str) -> common_pb2.Route:
    return common_pb2.Route(provider=provider, model=f"{provider}/{model}")


class FakeStream:
    """A server-streaming call: its messages (an exception among them is raised there), then EOF."""

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


class FakeService:
    """A stub whose methods answer (or raise) what the test put in `answers[name]`."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.streams: list[FakeStream] = []

    def __getattr__(self, name: str) -> Any:
        if name.endswith("Stream"):

            def open_call(request: Any, *, metadata: Any, timeout: float) -> FakeStream:
                stream = self.answers[name]
                self.streams.append(stream)
                return stream

            return open_call

        async def call(request: Any, *, metadata: Any, timeout: float) -> Any:
            answer = self.answers[name]
            if isinstance(answer, BaseException):
                raise answer
            return answer

        return call


def routes_app() -> tuple[FastAPI, Metrics, SimpleNamespace]:
    app = FastAPI()
    install_error_handlers(app)
    metrics = install_metrics(app)
    for router in (
        operations.router,
        openai.router,
        models.ai,
        models.openrouter,
        keys.portal,
        tenant.router,
    ):
        app.include_router(router)
    fake = SimpleNamespace(
        router=FakeService(),
        keyvault=FakeService(),
        settings=SimpleNamespace(portal_upstream_timeout_seconds=30.0),
    )
    app.dependency_overrides[get_clients] = lambda: fake
    app.dependency_overrides[authenticate] = lambda: CALLER
    return app, metrics, fake


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "auto", "messages": [{"role": "user", "content": "hi"}], **fields}


def final_chunk(cost_micros: int, route: common_pb2.Route) -> router_pb2.CompleteStreamChunk:
    final = router_pb2.CompleteStreamFinal(finish_reason="stop", cost_micros=cost_micros, route=route)
    return router_pb2.CompleteStreamChunk(id="chatcmpl-1", model=route.model, final=final)


def delta(text: str) -> router_pb2.CompleteStreamChunk:
    return router_pb2.CompleteStreamChunk(id="chatcmpl-1", model="openai/gpt-4o-mini", delta=text)


def samples(metrics: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == name
    }


SPEND = "keyrelay_spend_usd_total"
ERRORS = "keyrelay_upstream_errors_total"


async def test_spend_rises_by_each_answers_cost_under_its_provider_and_task() -> None:
    app, metrics, fake = routes_app()
    router = fake.router
    async with client(app) as http:
        router.answers["Complete"] = router_pb2.CompleteResponse(
            id="c1", content="hello", cost_micros=1_234, route=priced_route("openai", "gpt-4o-mini")
        )
        assert (await http.post("/v1/chat/completions", json=chat())).status_code == 200
        router.answers["Complete"] = router_pb2.CompleteResponse(
            id="c2", content="hmm", cost_micros=40_000, route=priced_route("deepseek", "deepseek-reasoner")
        )
        body = {"prompt": "think", "task_type": "Reasoning"}
        assert (await http.post("/api/brain/openrouter/completions", json=body)).status_code == 200

        anthropic = priced_route("anthropic", "claude-3-5-haiku")
        router.answers["CompleteStream"] = FakeStream(delta("a"), delta("b"), final_chunk(2_500, anthropic))
        streamed = await http.post(
            "/api/brain/ai/chat", json={"message": "hi", "task_type": "code", "stream": True}
        )
        assert streamed.status_code == 200 and '"cost_micros":2500' in streamed.text
        router.answers["CompleteStream"] = FakeStream(
            delta("a"), final_chunk(766, priced_route("openai", "gpt-4o-mini"))
        )
        assert "[DONE]" in (await http.post("/v1/chat/completions", json=chat(stream=True))).text

        router.answers["Embed"] = router_pb2.EmbedResponse(
            model="openai/text-embedding-3-small",
            cost_micros=20,
            route=priced_route("openai", "text-embedding-3-small"),
        )
        assert (await http.post("/v1/embeddings", json={"input": "alpha"})).status_code == 200

        router.answers["Benchmark"] = router_pb2.BenchmarkResponse(
            results=[
                router_pb2.BenchmarkResult(model="groq/llama-3.1-8b-instant", cost_micros=300, output="x"),
                router_pb2.BenchmarkResult(model=f"{TENANT}/made-up", error="unknown model"),
            ]
        )
        body = {"prompt": "hi", "models": ["groq/llama-3.1-8b-instant", f"{TENANT}/made-up"]}
        assert (await http.post("/api/brain/openrouter/benchmark", json=body)).status_code == 200
        text = (await http.get("/metrics")).text

    spent = samples(metrics, SPEND)
    assert spent == pytest.approx(
        {
            (("provider", "openai"), ("task", "chat")): (1_234 + 766) / 1e6,
            (("provider", "deepseek"), ("task", "reasoning")): 0.04,
            (("provider", "anthropic"), ("task", "code")): 0.0025,
            (("provider", "openai"), ("task", "embedding")): 0.00002,
            (("provider", "groq"), ("task", "chat")): 0.0003,
        }
    ), "the failed benchmark result cost nothing and makes no series"
    assert "# HELP keyrelay_spend_usd_total USD spent on AI providers through this portal replica" in text
    assert TENANT not in text and KEY_ID not in text
    assert all(stream.cancelled for stream in router.streams), "every stream is released"
    assert samples(metrics, ERRORS) == {}


def test_spend_labels_are_bounded() -> None:
    metrics = Metrics()
    metrics.add_spend("OpenAI", common_pb2.TASK_TYPE_UNSPECIFIED, 1_000_000)  # unspecified is chat
    metrics.add_spend("openai", " Chat ", 500_000)
    metrics.add_spend("mistral", 999, 10)  # a task value this portal does not know
    metrics.add_spend("mistral", "benchmarking", 10)  # nor a task name
    metrics.add_spend("not a/provider {label}", "rag", 7)
    metrics.add_spend("openai", "chat", 0)  # nothing spent: no sample
    metrics.add_spend("cohere", "chat", -5)  # never a negative increment
    assert samples(metrics, SPEND) == pytest.approx(
        {
            (("provider", "openai"), ("task", "chat")): 1.5,
            (("provider", "mistral"), ("task", "other")): 0.00002,
            (("provider", "other"), ("task", "rag")): 0.000007,
        }
    )
    assert provider_of("", "groq/llama-3.1-8b-instant") == "groq" and provider_of("", "") == "unknown"
    assert provider_of("anthropic", "openai/gpt-4o") == "anthropic"
    assert task_label("RAG") == "rag" and task_label(common_pb2.TASK_TYPE_EMBEDDING) == "embedding"
    record_spend("openai", "chat", 1_000)  # outside a request: a no-op


async def test_a_backing_services_failure_is_counted_once_under_that_service_and_its_code() -> None:
    app, metrics, fake = routes_app()
    router, keyvault = fake.router, fake.keyvault
    async with client(app) as http:
        router.answers["Complete"] = rpc_error(grpc.StatusCode.UNAVAILABLE)
        assert (await http.post("/v1/chat/completions", json=chat())).status_code == 503
        router.answers["Complete"] = rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "budget_exceeded")
        assert (await http.post("/api/brain/ai/chat", json={"message": "hi"})).status_code == 402
        router.answers["Embed"] = rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED)
        assert (await http.post("/v1/embeddings", json={"input": "a"})).status_code == 504
        # before the first chunk: an HTTP error
        router.answers["CompleteStream"] = FakeStream(rpc_error(grpc.StatusCode.UNKNOWN))
        assert (await http.post("/v1/chat/completions", json=chat(stream=True))).status_code == 502
        # mid-stream: a 200 whose last events are an error and [DONE]; the middleware sees a 200
        router.answers["CompleteStream"] = FakeStream(delta("a"), rpc_error(grpc.StatusCode.UNAVAILABLE))
        mid = await http.post("/api/brain/openrouter/completions", json={"prompt": "hi", "stream": True})
        assert mid.status_code == 200 and '"type":"unavailable"' in mid.text
        # a router call on a /api/brain route: the fallback would have said keyvault
        router.answers["GetTenantSettings"] = rpc_error(grpc.StatusCode.UNAVAILABLE)
        assert (await http.get("/api/brain/tenant/settings")).status_code == 503
        keyvault.answers["ListServices"] = rpc_error(grpc.StatusCode.INTERNAL)
        assert (await http.get("/api/brain/portal/services")).status_code == 500
        # the caller's mistakes relayed by a service are not upstream errors
        router.answers["Complete"] = rpc_error(grpc.StatusCode.NOT_FOUND)
        assert (await http.post("/v1/chat/completions", json=chat(model="nope/none"))).status_code == 404
        router.answers["Complete"] = rpc_error(grpc.StatusCode.INVALID_ARGUMENT)
        assert (await http.post("/v1/chat/completions", json=chat())).status_code == 400

    assert samples(metrics, ERRORS) == {
        (("code", "UNAVAILABLE"), ("service", "router")): 3,
        (("code", "RESOURCE_EXHAUSTED"), ("service", "router")): 1,
        (("code", "DEADLINE_EXCEEDED"), ("service", "router")): 1,
        (("code", "UNKNOWN"), ("service", "router")): 1,
        (("code", "INTERNAL"), ("service", "keyvault")): 1,
    }
    assert samples(metrics, SPEND) == {}


async def test_a_failed_access_key_check_is_keyvaults_error_not_the_routes() -> None:
    app, metrics = small_app()
    failures: list[grpc.StatusCode] = []

    async def verify(request: Any, *, metadata: Any, timeout: float) -> Any:
        raise rpc_error(failures.pop())

    verifier = AccessKeyVerifier(verify)

    @app.get("/v1/models")
    async def needs_a_key() -> dict[str, str]:
        return {"tenant": (await verifier.verify("kr_" + "x" * 40)).tenant_id}

    async with client(app) as http:
        failures.append(grpc.StatusCode.UNAVAILABLE)
        assert (await http.get("/v1/models")).status_code == 503
        failures.append(grpc.StatusCode.UNAUTHENTICATED)  # a wrong key: the caller's mistake
        assert (await http.get("/v1/models")).status_code == 401
    assert samples(metrics, ERRORS) == {(("code", "UNAVAILABLE"), ("service", "keyvault")): 1}
