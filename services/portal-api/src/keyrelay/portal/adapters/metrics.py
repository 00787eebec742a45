"""Prometheus metrics of the portal, served by `GET /metrics`: requests, latency, upstream
errors, spend.

Labels are bounded on purpose: the route is the route *template* (`/v1/rag/collections/{id}`,
never the raw path), methods outside the standard set become `OTHER`, and there is no tenant,
key or user label (cardinality, and `/metrics` is open). Each app owns its `CollectorRegistry`
so several apps (tests) never share counters.

Upstream errors: `rpc_failure(service, err)` is the one place a backing service's gRPC
failure becomes a domain error (and so an HTTP error or, mid-stream, an SSE `error` event);
it counts it under that service and its gRPC code when it is a failure, i.e. answered 402,
429 or 5xx (`is_failure`): a 400/401/403/404/409 a service relays is the caller's mistake,
not an outage. A request answered 402/429/5xx that recorded none is counted by the
middleware as a fallback, attributed to the service of the route's family (so a portal-side
500 on an inference route counts under `router`); one that recorded one is not counted again.

Spend: `record_spend(provider, task, cost_micros)` adds the cost the router reports for a
call made through this replica (completions plain and streamed, embeddings, benchmarks, RAG
answers) to `keyrelay_spend_usd_total{provider, task}`. `provider` is the route's provider
(a catalog provider: a positive cost only comes from a priced catalog model), `task` one of
the router's task names. There is deliberately no tenant label: one series per tenant grows
without bound, and `/metrics` needs no credentials, so it must not list who spends what.
Per-tenant spend is in the usage ledger and analytics (`/api/brain/openrouter/usage/{tenant_id}`,
`/analytics/{tenant_id}`, `/api/brain/portal/tenant/{tenant_id}/usage-stats`), which is also
the source of truth: this counter is per replica and restarts from zero, so dashboards use
`sum(rate(...))` / `increase(...)`, and calls other services make themselves (rag-svc's
ingestion embeddings) are not in it.
"""

from __future__ import annotations

import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyrelay.common.errors import (
    BudgetExceeded,
    DeadlineExceeded,
    InternalError,
    KeyrelayError,
    RateLimited,
    Unavailable,
    UpstreamError,
    from_rpc_error,
)
from keyrelay.v1 import common_pb2

Service = Literal["keyvault", "router", "rag"]

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
_TASK_PREFIX = "TASK_TYPE_"
# The router's task names (llm-router-svc treats an unspecified task as chat).
TASKS = frozenset(
    name.removeprefix(_TASK_PREFIX).lower()
    for name in common_pb2.TaskType.keys()
    if name != "TASK_TYPE_UNSPECIFIED"
)


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
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.spend = Counter(
            "keyrelay_spend_usd",
            "USD spent on AI providers through this portal replica, by provider and task.",
            ["provider", "task"],
            registry=self.registry,
        )

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4

    def upstream_error(self, service: str, code: grpc.StatusCode | str) -> None:
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        self.upstream_errors.labels(_bounded(service), _bounded(name.upper())).inc()

    def add_spend(self, provider: str, task: str | int, cost_micros: int) -> None:
        if cost_micros > 0:  # nothing spent (failed or free): no series for it either
            self.spend.labels(_bounded(provider.lower()), task_label(task)).inc(cost_micros / 1_000_000)

    def observe(self, method: str, route: str, status: int, seconds: float, upstream_recorded: bool) -> None:
        # The labelled children, looked up once per (method, route, status): labels() takes
        # a lock and builds a key on every call. Bounded: route templates, not paths.
        children = self._children.get((method, route, status))
        if children is None:
            children = self.requests.labels(method, route, str(status)), self.duration.labels(method, route)
            self._children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)
        if not upstream_recorded and is_failure(status):
            self.upstream_errors.labels(
                service_of(route), _CODE_BY_STATUS.get(status, f"HTTP_{status}")
            ).inc()


@dataclass
class _Request:
    metrics: Metrics
    upstream_recorded: bool = False


_current: ContextVar[_Request | None] = ContextVar("keyrelay_portal_metrics_request", default=None)


def is_failure(status: int) -> bool:
    """An HTTP status that counts as an upstream error: 402, 429 or 5xx."""
    return status >= 500 or status in (402, 429)


def record_upstream_error(service: str, code: grpc.StatusCode | str) -> None:
    """Count a backing service's failure for the current request (a no-op outside one)."""
    request = _current.get()
    if request is not None:
        request.metrics.upstream_error(service, code)
        request.upstream_recorded = True


def rpc_failure(service: Service, err: grpc.RpcError) -> KeyrelayError:
    """The domain error for `service`'s gRPC failure (`from_rpc_error`), counted as an upstream
    error of that service with its gRPC code when it is a failure (`is_failure`). Raise it:
    `raise rpc_failure("router", err) from err`."""
    error = from_rpc_error(err)
    if is_failure(error.http_status):
        code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
        record_upstream_error(service, code or grpc.StatusCode.UNKNOWN)
    return error


def record_spend(provider: str, task: str | int, cost_micros: int) -> None:
    """Add `cost_micros` (integer micro-dollars, as the router reports them) to the spend of
    `provider` for `task` (a task name, e.g. `"rag"`, or a `TaskType` value). Called where a
    cost arrives from the router (`adapters/inference.py`; RAG answers with `route.provider`
    and `"rag"`). A no-op outside a request and for a cost of zero."""
    request = _current.get()
    if request is not None:
        request.metrics.add_spend(provider, task, cost_micros)


def provider_of(provider: str, model: str = "") -> str:
    """The provider a cost is labelled with: the route's, else the `provider/model` id's prefix."""
    return provider or (model.split("/", 1)[0] if "/" in model else "") or "unknown"


def task_label(task: str | int) -> str:
    """A task as its router name (`chat`, `code`, ...): a `TaskType` value (unspecified is
    chat, as in the router) or a name; anything else is `other`."""
    if isinstance(task, int):
        if task == common_pb2.TASK_TYPE_UNSPECIFIED:
            return "chat"
        try:
            task = common_pb2.TaskType.Name(task).removeprefix(_TASK_PREFIX)
        except ValueError:
            return "other"
    name = task.strip().lower()
    return name if name in TASKS else "other"


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
