"""Prometheus metrics of the portal, served by `GET /metrics`.

Labels are bounded on purpose: the route is the route *template* (`/v1/rag/collections/{id}`,
never the raw path), methods outside the standard set become `OTHER`, and there is no tenant,
key or user label (cardinality, and `/metrics` is open). Each app owns its `CollectorRegistry`
so several apps (tests) never share counters.

`record_upstream_error(service, code)` counts a gRPC failure of a backing service; routes
call it where they turn an `RpcError` into an HTTP error. A request answered 402/429/5xx
that recorded none is counted by the middleware as a fallback, attributed to the service of
the route's family (so a portal-side 500 on an inference route counts under `router`).
"""

from __future__ import annotations

import re
import time
from contextvars import ContextVar
from dataclasses import dataclass

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyrelay.common.errors import (
    BudgetExceeded,
    DeadlineExceeded,
    InternalError,
    RateLimited,
    Unavailable,
    UpstreamError,
)

UNMATCHED_ROUTE = "unmatched"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Completions and RAG answers can take minutes: the buckets reach the upstream timeout.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

# The fallback's gRPC code for an HTTP status, from the error classes that carry it.
_CODE_BY_STATUS = {
    cls.http_status: cls.grpc_code.name
    for cls in (BudgetExceeded, RateLimited, InternalError, UpstreamError, Unavailable, DeadlineExceeded)
}
_SERVICE_BY_PREFIX = (
    ("/v1/rag", "rag"),
    ("/v1/chat", "router"),
    ("/v1/embeddings", "router"),
    ("/v1/models", "router"),
    ("/api/brain/ai", "router"),
    ("/api/brain/openrouter", "router"),
    ("/api/brain", "keyvault"),
    ("/v1/admin", "keyvault"),
)
_LABEL = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class Metrics:
    """The portal's metrics, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "keyrelay_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "keyrelay_http_request_duration_seconds",
            "Time to answer an HTTP request (streams until their last byte), by route template.",
            ["method", "route"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "keyrelay_upstream_errors",
            "Failures of backing services turned into HTTP errors, by service and gRPC code.",
            ["service", "code"],
            registry=self.registry,
        )

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4

    def upstream_error(self, service: str, code: grpc.StatusCode | str) -> None:
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        self.upstream_errors.labels(_bounded(service), _bounded(name.upper())).inc()

    def observe(self, method: str, route: str, status: int, seconds: float, upstream_recorded: bool) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)
        if not upstream_recorded and (status >= 500 or status in (402, 429)):
            self.upstream_errors.labels(
                service_of(route), _CODE_BY_STATUS.get(status, f"HTTP_{status}")
            ).inc()


@dataclass
class _Request:
    metrics: Metrics
    upstream_recorded: bool = False


_current: ContextVar[_Request | None] = ContextVar("keyrelay_portal_metrics_request", default=None)


def record_upstream_error(service: str, code: grpc.StatusCode | str) -> None:
    """Count a backing service's failure for the current request (a no-op outside one)."""
    request = _current.get()
    if request is not None:
        request.metrics.upstream_error(service, code)
        request.upstream_recorded = True


def service_of(route: str) -> str:
    for prefix, service in _SERVICE_BY_PREFIX:
        if route.startswith(prefix):
            return service
    return "portal"


def route_template(scope: Scope) -> str:
    """The matched route's path template; `unmatched` when no route matched (404s)."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


def _bounded(value: str) -> str:
    return value if _LABEL.fullmatch(value) else "other"


class HttpMetrics:
    """Counts and times every HTTP request by route template. Plain ASGI, like RequestContext:
    one clock read at each end and the status taken from `http.response.start`."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception before the response starts becomes a 500 outside us
        request = _Request(self.metrics)
        token = _current.set(request)

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            _current.reset(token)
            method = scope["method"] if scope["method"] in HTTP_METHODS else "OTHER"
            self.metrics.observe(
                method, route_template(scope), status, time.perf_counter() - start, request.upstream_recorded
            )


def install_metrics(app: Starlette, metrics: Metrics | None = None) -> Metrics:
    """Give `app` its own metrics (`app.state.metrics`, read by `GET /metrics`) and the middleware."""
    metrics = metrics or Metrics()
    app.state.metrics = metrics
    app.add_middleware(HttpMetrics, metrics=metrics)
    return metrics
