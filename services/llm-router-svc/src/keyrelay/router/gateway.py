"""The gateway: one model call from request to accounted answer (SPEC §5).

For each call: rate limits, a route plan, then for each candidate in order: its key
(ResolveKey, cached), its circuit breaker, a budget reservation of its maximum cost, the
provider call. Connection errors, timeouts, 429 and 5xx move on to the next candidate;
request errors do not. A stream is never retried once its first chunk has gone out. Every
provider attempt, answered or not, settles its reservation and leaves one usage event on
NATS; requests refused before any provider is called (limits, budget, no key) leave none.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from keyrelay.common.cache import TtlCache
from keyrelay.common.context import request_id_var
from keyrelay.common.db import POOL_ERRORS
from keyrelay.common.errors import (
    BudgetExceeded,
    InvalidArgument,
    KeyrelayError,
    NotFound,
    RateLimited,
    Unavailable,
    UpstreamError,
)
from keyrelay.common.events import usage_event
from keyrelay.common.nats_helpers import EventNotRecorded, EventPublisher
from keyrelay.router.adapters.keys import KeyResolver, ResolvedKey
from keyrelay.router.adapters.providers.base import ProviderAdapter
from keyrelay.router.adapters.store import RouterStore, month_of
from keyrelay.router.domain.catalog import Model, ModelCatalog
from keyrelay.router.domain.health import HealthBook
from keyrelay.router.domain.messages import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    EmbedRequest,
    ProviderError,
    TokenUsage,
)
from keyrelay.router.domain.routing import max_cost_micros, plan_route
from keyrelay.router.domain.settings import TenantSettings
from keyrelay.router.domain.tokens import count_tokens

SOURCE = "llm-router-svc"
log = logging.getLogger(__name__)
# Settlements are gathered this long and written together; a reservation outlives its call
# by about as much, which only ever errs on the safe side of the budget.
SETTLE_WINDOW_SECONDS = 0.02


@dataclass(frozen=True)
class CallRequest:
    tenant_id: str
    messages: tuple[ChatMessage, ...]
    model: str = "auto"
    task: str = "chat"
    access_key_id: str = ""
    access_key_rate_limit: int = 0
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    allow_failover: bool | None = None


@dataclass
class Attempt:
    provider: str
    model: str
    outcome: str  # success | retryable | fatal | skipped
    error: str = ""
    status: int = 0
    latency_ms: float = 0.0


@dataclass
class Route:
    reason: str
    attempts: list[Attempt] = field(default_factory=list)
    model: Model | None = None
    key: ResolvedKey | None = None
    # (provider, key) pairs that failed in this request: their other models are skipped,
    # since a 429 or an outage of a provider's key hits every model behind it.
    failed: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True)
class CallOutcome:
    id: str
    content: str
    finish_reason: str
    usage: TokenUsage
    cost_micros: int
    route: Route


@dataclass(frozen=True)
class StreamEvent:
    """A streamed piece (`delta`), or the final event (`final` set) with accounting."""

    delta: str = ""
    final: CallOutcome | None = None


@dataclass
class _Lease:
    """A candidate that passed key, breaker and budget checks, with its reservation."""

    model: Model
    key: ResolvedKey
    reserved: int
    at: datetime


class Gateway:
    def __init__(
        self,
        catalog: ModelCatalog,
        store: RouterStore,
        keys: KeyResolver,
        adapters: dict[str, ProviderAdapter],
        health: HealthBook,
        publisher: EventPublisher,
        settings_ttl: float = 5.0,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.keys = keys
        self.adapters = adapters
        self.health = health
        self.publisher = publisher
        self._settings: TtlCache[str, TenantSettings] = TtlCache(settings_ttl)
        self._pending_settlements: dict[tuple[str, date], list[int]] = {}
        self._settling: asyncio.Task[None] | None = None

    # -- settings ------------------------------------------------------------------------

    async def settings(self, tenant_id: str) -> TenantSettings:
        cached = self._settings.get(tenant_id)
        if cached is None:
            epoch = self._settings.epoch
            cached = await self.store.get_settings(tenant_id)
            self._settings.put(tenant_id, cached, epoch)
        return cached

    async def put_settings(self, settings: TenantSettings) -> TenantSettings:
        stored = await self.store.put_settings(settings)
        self._settings.invalidate(lambda t: t == settings.tenant_id)
        return stored

    # -- chat ------------------------------------------------------------------------------

    async def complete(self, req: CallRequest) -> CallOutcome:
        settings, prompt_tokens, route, leases = await self._prepare(req)
        call_id = "chatcmpl-" + uuid.uuid4().hex
        async for lease in leases:
            chat = self._chat_request(req, lease.model)
            started = time.perf_counter()
            try:
                result = await self._adapter(lease.model).chat(lease.key.credential, chat)
            except ProviderError as err:
                await self._failed(req, route, lease, err, started, call_id, stream=False)
                continue
            latency = (time.perf_counter() - started) * 1000
            usage = result.usage or self._estimate(req.messages, result.content)
            outcome = await self._succeeded(
                req, route, lease, usage, latency, call_id, result.content, result.finish_reason, stream=False
            )
            return outcome
        raise self._exhausted(route, req)

    async def complete_stream(self, req: CallRequest) -> AsyncIterator[StreamEvent]:
        settings, prompt_tokens, route, leases = await self._prepare(req)
        call_id = "chatcmpl-" + uuid.uuid4().hex
        async for lease in leases:
            chat = self._chat_request(req, lease.model)
            started = time.perf_counter()
            text: list[str] = []
            last: ChatChunk | None = None
            try:
                async for chunk in self._adapter(lease.model).chat_stream(lease.key.credential, chat):
                    last = chunk
                    if chunk.delta:
                        text.append(chunk.delta)
                        yield StreamEvent(delta=chunk.delta)
            except ProviderError as err:
                # Once something went out the stream is never retried (SPEC §5): fatal.
                await self._failed(req, route, lease, err, started, call_id, stream=True, fatal=bool(text))
                continue
            latency = (time.perf_counter() - started) * 1000
            content = "".join(text)
            usage = (last.usage if last else None) or self._estimate(req.messages, content)
            finish = (last.finish_reason if last else "") or "stop"
            outcome = await self._succeeded(
                req, route, lease, usage, latency, call_id, content, finish, stream=True
            )
            yield StreamEvent(final=outcome)
            return
        raise self._exhausted(route, req)

    # -- benchmark -------------------------------------------------------------------------

    async def benchmark(
        self, req: CallRequest, models: tuple[str, ...]
    ) -> list[tuple[str, CallOutcome | None, str, float]]:
        """The same prompt against several models at once: (model, outcome, error, latency ms)
        per model, in the order given. Each call is accounted like any other."""
        if not models:
            plan = plan_route(
                self.catalog,
                await self.settings(req.tenant_id),
                self.health,
                task=req.task,
                model_id="auto",
                prompt_tokens=self._prompt_tokens(req),
                max_tokens=req.max_tokens,
                allow_failover=True,
            )
            models = tuple(m.id for m in plan.candidates[:3])
        if len(models) > 10:
            raise InvalidArgument("benchmark at most 10 models at once")

        async def one(model_id: str) -> tuple[str, CallOutcome | None, str, float]:
            started = time.perf_counter()
            try:
                outcome = await self.complete(replace(req, model=model_id, allow_failover=False))
            except KeyrelayError as err:
                return model_id, None, err.message, (time.perf_counter() - started) * 1000
            return model_id, outcome, "", (time.perf_counter() - started) * 1000

        return list(await asyncio.gather(*(one(m) for m in models)))

    # -- embeddings ----------------------------------------------------------------------

    async def embed(
        self, req: CallRequest, inputs: tuple[str, ...], dimensions: int | None
    ) -> tuple[Any, TokenUsage, int, Route]:
        if not inputs:
            raise InvalidArgument("inputs is empty: send at least one text to embed")
        req = replace(req, task="embedding")
        settings, prompt_tokens, route, leases = await self._prepare(req, texts=inputs)
        call_id = "embd-" + uuid.uuid4().hex
        async for lease in leases:
            started = time.perf_counter()
            try:
                result = await self._adapter(lease.model).embed(
                    lease.key.credential, EmbedRequest(lease.model.provider_model_id, inputs, dimensions)
                )
            except ProviderError as err:
                await self._failed(req, route, lease, err, started, call_id, stream=False)
                continue
            latency = (time.perf_counter() - started) * 1000
            usage = result.usage or TokenUsage(sum(count_tokens(t) for t in inputs), 0, estimated=True)
            outcome = await self._succeeded(
                req, route, lease, usage, latency, call_id, "", "stop", stream=False
            )
            return result.vectors, usage, outcome.cost_micros, route
        raise self._exhausted(route, req)

    # -- the steps -------------------------------------------------------------------------

    async def _prepare(
        self, req: CallRequest, texts: tuple[str, ...] | None = None
    ) -> tuple[TenantSettings, int, Route, AsyncIterator[_Lease]]:
        if not req.messages and texts is None:
            raise InvalidArgument("messages is empty: send at least one message")
        if req.max_tokens is not None and req.max_tokens <= 0:
            raise InvalidArgument("max_tokens must be positive")
        if not self.publisher.can_record():
            raise Unavailable(
                "usage cannot be recorded (NATS unreachable and the local event spool unusable), so "
                "no provider is called; check NATS and the spool directory"
            )
        settings = await self.settings(req.tenant_id)
        now = datetime.now(UTC)
        if req.access_key_rate_limit > 0:
            wait = await self.store.take(f"key:{req.access_key_id}", 1, req.access_key_rate_limit, now)
            if wait is not None:
                raise RateLimited(
                    f"access key {req.access_key_id} is limited to {req.access_key_rate_limit} requests "
                    f"per minute; retry in {wait}s",
                    retry_after=wait,
                )
        prompt_tokens = sum(count_tokens(t) for t in texts) if texts is not None else self._prompt_tokens(req)
        if settings.tokens_per_minute > 0:
            wanted = prompt_tokens + (req.max_tokens or 0)
            wait = await self.store.take(f"tpm:{req.tenant_id}", wanted, settings.tokens_per_minute, now)
            if wait is not None:
                raise RateLimited(
                    f"tenant {req.tenant_id} is limited to {settings.tokens_per_minute} tokens per minute; "
                    f"retry in {wait}s",
                    retry_after=wait,
                )
        explicit = bool(req.model and req.model != "auto")
        allow_failover = req.allow_failover if req.allow_failover is not None else not explicit
        plan = plan_route(
            self.catalog,
            settings,
            self.health,
            task=req.task,
            model_id=req.model,
            prompt_tokens=prompt_tokens,
            max_tokens=req.max_tokens,
            allow_failover=allow_failover,
        )
        route = Route(plan.reason)
        return (
            settings,
            prompt_tokens,
            route,
            self._leases(req, settings, plan.candidates, prompt_tokens, route),
        )

    async def _leases(
        self,
        req: CallRequest,
        settings: TenantSettings,
        candidates: tuple[Model, ...],
        prompt_tokens: int,
        route: Route,
    ) -> AsyncIterator[_Lease]:
        """Candidates ready to call, in order; each holds a budget reservation."""
        over_budget = 0
        for model in candidates:
            if model.provider not in self.adapters:
                route.attempts.append(Attempt(model.provider, model.id, "skipped", "no adapter for provider"))
                continue
            key = await self.keys.resolve(
                req.tenant_id, model.provider, settings.allow_platform_fallback, req.task
            )
            if key is None:
                route.attempts.append(Attempt(model.provider, model.id, "skipped", "no usable key"))
                continue
            if (model.provider, key.ref) in route.failed:
                route.attempts.append(Attempt(model.provider, model.id, "skipped", "provider just failed"))
                continue
            if not self.health.allows(model.provider, key.ref):
                route.attempts.append(
                    Attempt(model.provider, model.id, "skipped", "circuit open (cooling down)")
                )
                continue
            now = datetime.now(UTC)
            # Without a limit there is nothing to protect: spend is recorded at settlement.
            limited = settings.max_monthly_cost_micros is not None
            reserved = max_cost_micros(model, prompt_tokens, req.max_tokens) if limited else 0
            if limited and not await self.store.reserve(
                req.tenant_id, reserved, settings.max_monthly_cost_micros, now
            ):
                over_budget += 1
                route.attempts.append(Attempt(model.provider, model.id, "skipped", "over monthly budget"))
                if settings.on_budget_exceeded != "downgrade":
                    raise self._budget_exceeded(settings)
                continue
            yield _Lease(model, key, reserved, now)
        if over_budget and not any(a.outcome in ("retryable", "fatal") for a in route.attempts):
            raise self._budget_exceeded(settings)

    async def _succeeded(
        self,
        req: CallRequest,
        route: Route,
        lease: _Lease,
        usage: TokenUsage,
        latency: float,
        call_id: str,
        content: str,
        finish_reason: str,
        *,
        stream: bool,
    ) -> CallOutcome:
        cost = lease.model.cost_micros(usage.prompt_tokens, usage.completion_tokens)
        self._settle_soon(req.tenant_id, lease.reserved, cost, lease.at)
        self.health.record(
            lease.model.provider, lease.key.ref, lease.model.id, ok=True, retryable=False, latency_ms=latency
        )
        route.attempts.append(Attempt(lease.model.provider, lease.model.id, "success", latency_ms=latency))
        route.model, route.key = lease.model, lease.key
        self._record_usage(req, route, lease, call_id, usage, cost, latency, stream=stream, error_type="")
        return CallOutcome(call_id, content, finish_reason, usage, cost, route)

    async def _failed(
        self,
        req: CallRequest,
        route: Route,
        lease: _Lease,
        err: ProviderError,
        started: float,
        call_id: str,
        *,
        stream: bool,
        fatal: bool = False,
    ) -> None:
        latency = (time.perf_counter() - started) * 1000
        self._settle_soon(req.tenant_id, lease.reserved, 0, lease.at)
        retryable = err.retryable and not fatal
        route.failed.add((lease.model.provider, lease.key.ref))
        self.health.record(
            lease.model.provider,
            lease.key.ref,
            lease.model.id,
            ok=False,
            retryable=err.retryable,
            latency_ms=latency,
        )
        route.attempts.append(
            Attempt(
                lease.model.provider,
                lease.model.id,
                "retryable" if retryable else "fatal",
                err.message,
                err.status or 0,
                latency,
            )
        )
        self._record_usage(
            req,
            route,
            lease,
            f"{call_id}-{len(route.attempts)}",
            TokenUsage(0, 0),
            0,
            latency,
            stream=stream,
            error_type=err.kind,
        )
        if not retryable:
            raise self._upstream(err)

    def _settle_soon(self, tenant_id: str, reserved: int, actual: int, at: datetime) -> None:
        """Settle after answering: the reservation keeps the budget safe until then, so the
        caller need not wait for it. Settlements made within SETTLE_WINDOW_SECONDS are
        summed per tenant and month and written together; pending ones are awaited on
        shutdown."""
        sums = self._pending_settlements.setdefault((tenant_id, month_of(at)), [0, 0])
        sums[0] += reserved
        sums[1] += actual
        if self._settling is None:
            self._settling = asyncio.create_task(self._settle_pending())

    async def _settle_pending(self) -> None:
        try:
            await asyncio.sleep(SETTLE_WINDOW_SECONDS)
            while self._pending_settlements:
                batch, self._pending_settlements = self._pending_settlements, {}
                try:
                    await self.store.settle(batch)
                except POOL_ERRORS as exc:
                    # The reservations stay counted until an operator corrects them: the
                    # budget errs on the safe side. The ledger keeps the true spend.
                    log.error("budget settlement of %d tenant-months failed: %r", len(batch), exc)
        finally:
            self._settling = None

    async def drain(self) -> None:
        """Wait for pending settlements (on shutdown)."""
        if self._settling is not None:
            await self._settling

    def _record_usage(
        self,
        req: CallRequest,
        route: Route,
        lease: _Lease,
        call_id: str,
        usage: TokenUsage,
        cost: int,
        latency: float,
        *,
        stream: bool,
        error_type: str,
    ) -> None:
        data = {
            "id": call_id,
            "access_key_id": req.access_key_id,
            "task_type": req.task,
            "provider": lease.model.provider,
            "model": lease.model.id,
            "key_source": lease.key.source,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "estimated": usage.estimated,
            "cost_micros": cost,
            "latency_ms": round(latency, 3),
            "stream": stream,
            "success": not error_type,
            "error_type": error_type,
            "attempts": len(route.attempts),
        }
        try:
            self.publisher.submit(usage_event(SOURCE, req.tenant_id, data, request_id_var.get()))
        except EventNotRecorded:
            # The provider was already called and the budget settled: the caller gets the answer.
            log.error("usage event %s could not be recorded (NATS and spool both unavailable)", call_id)

    # -- helpers ---------------------------------------------------------------------------

    def _adapter(self, model: Model) -> ProviderAdapter:
        return self.adapters[model.provider]

    @staticmethod
    def _chat_request(req: CallRequest, model: Model) -> ChatRequest:
        return ChatRequest(
            model=model.provider_model_id,
            messages=req.messages,
            max_tokens=req.max_tokens,
            temperature=req.temperature,
            top_p=req.top_p,
            stop=req.stop,
        )

    @staticmethod
    def _prompt_tokens(req: CallRequest) -> int:
        return sum(count_tokens(m.text()) + 4 for m in req.messages)  # +4: per-message framing

    def _estimate(self, messages: tuple[ChatMessage, ...], content: str) -> TokenUsage:
        prompt = sum(count_tokens(m.text()) + 4 for m in messages)
        return TokenUsage(prompt, count_tokens(content), estimated=True)

    @staticmethod
    def _upstream(err: ProviderError) -> KeyrelayError:
        if err.kind == "bad_request":
            return InvalidArgument(f"{err.provider} rejected the request: {err.message}")
        if err.kind == "auth":
            return UpstreamError(
                f"{err.provider} rejected the API key ({err.status}): "
                f"check or rotate the key for {err.provider}"
            )
        return UpstreamError(
            f"{err.provider}: {err.message}", retry_after=int(err.retry_after) if err.retry_after else None
        )

    @staticmethod
    def _budget_exceeded(settings: TenantSettings) -> BudgetExceeded:
        limit = (settings.max_monthly_cost_micros or 0) / 1_000_000
        return BudgetExceeded(
            f"budget_exceeded: tenant {settings.tenant_id} reached its monthly budget of ${limit:.2f}; "
            "raise max_monthly_cost or set on_budget_exceeded to downgrade"
        )

    @staticmethod
    def _exhausted(route: Route, req: CallRequest) -> KeyrelayError:
        tried = [a for a in route.attempts if a.outcome != "skipped"]
        if not tried:
            skipped = sorted({f"{a.provider} ({a.error})" for a in route.attempts})
            return NotFound(
                f"no candidate for task '{req.task}' could be used: {', '.join(skipped) or 'none'}; "
                "add a key for one of these providers, or allow platform keys in the tenant settings"
            )
        summary = "; ".join(f"{a.model}: {a.error}" for a in tried)
        return UpstreamError(f"every candidate failed ({summary})")
