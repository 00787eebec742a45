"""`/metrics`: request counts and latencies by route template, upstream errors, no raw ids."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from prometheus_client.parser import text_string_to_metric_families

from keyrelay.common.errors import Unavailable, UpstreamError
from keyrelay.common.http_errors import install_error_handlers
from keyrelay.portal.adapters.metrics import Metrics, install_metrics, record_upstream_error
from keyrelay.portal.app import create_app
from keyrelay.portal.config import PortalSettings
from keyrelay.portal.routes import operations

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
