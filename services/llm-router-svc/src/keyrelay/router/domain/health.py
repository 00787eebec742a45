"""Provider health as the router observes it: a circuit breaker per (provider, key) and
latency/success statistics per model, both in memory (each replica learns on its own).

Breaker: after `threshold` consecutive retryable failures the circuit opens for
`cooldown` seconds (no calls); then one trial call is let through (half-open): success
closes it, failure opens it again. Only retryable failures count: a bad request is the
caller's fault, not the provider's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Breaker:
    threshold: int = 3
    cooldown: float = 30.0
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False

    def allows(self, now: float) -> bool:
        if self.opened_at is None:
            return True
        if now - self.opened_at < self.cooldown or self.trial_in_flight:
            return False
        self.trial_in_flight = True  # half-open: one trial
        return True

    def record(self, ok: bool, now: float) -> None:
        self.trial_in_flight = False
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = now


@dataclass
class ModelStats:
    """Exponentially weighted latency (ms) and success rate; neutral until observed."""

    alpha: float = 0.2
    latency_ms: float | None = None
    success_rate: float = 1.0

    def record(self, ok: bool, latency_ms: float) -> None:
        if ok:
            self.latency_ms = (
                latency_ms
                if self.latency_ms is None
                else (1 - self.alpha) * self.latency_ms + self.alpha * latency_ms
            )
        self.success_rate = (1 - self.alpha) * self.success_rate + self.alpha * (1.0 if ok else 0.0)


@dataclass
class HealthBook:
    threshold: int = 3
    cooldown: float = 30.0
    clock: Callable[[], float] = time.monotonic
    breakers: dict[tuple[str, str], Breaker] = field(default_factory=dict)
    stats: dict[str, ModelStats] = field(default_factory=dict)

    def breaker(self, provider: str, key_ref: str) -> Breaker:
        key = (provider, key_ref)
        if key not in self.breakers:
            self.breakers[key] = Breaker(self.threshold, self.cooldown)
        return self.breakers[key]

    def allows(self, provider: str, key_ref: str) -> bool:
        return self.breaker(provider, key_ref).allows(self.clock())

    def record(
        self, provider: str, key_ref: str, model_id: str, *, ok: bool, retryable: bool, latency_ms: float
    ) -> None:
        if ok or retryable:
            self.breaker(provider, key_ref).record(ok, self.clock())
        self.stats.setdefault(model_id, ModelStats()).record(ok, latency_ms)

    def model_stats(self, model_id: str) -> ModelStats:
        return self.stats.get(model_id) or ModelStats()
