"""Route plans and provider health: pure rules, on the real model catalog."""

from __future__ import annotations

from dataclasses import replace

import pytest

from keyrelay.common.errors import NotFound
from keyrelay.router.domain.catalog import BudgetTier, ModelCatalog
from keyrelay.router.domain.health import HealthBook
from keyrelay.router.domain.routing import max_cost_micros, plan_route
from keyrelay.router.domain.settings import TenantSettings

CATALOG = ModelCatalog.load()
TENANT = TenantSettings(tenant_id="acme", budget_tier=BudgetTier.MEDIUM)


def plan(settings: TenantSettings = TENANT, health: HealthBook | None = None, **kw):  # type: ignore[no-untyped-def]
    args = {
        "task": "chat",
        "model_id": "auto",
        "prompt_tokens": 50,
        "max_tokens": 100,
        "allow_failover": True,
    }
    args.update(kw)
    return plan_route(CATALOG, settings, health or HealthBook(), **args)


def test_auto_ranks_eligible_models_by_cost_and_explains_why() -> None:
    result = plan()
    costs = [max_cost_micros(m, 50, 100) for m in result.candidates]
    assert costs == sorted(costs)
    assert all(m.supports("chat") and m.budget_tier <= BudgetTier.MEDIUM for m in result.candidates)
    assert result.reason.startswith("auto: chat within tier MEDIUM") and "cheapest" in result.reason


def test_task_and_tier_change_the_choice() -> None:
    chat_low = plan(replace(TENANT, budget_tier=BudgetTier.LOW)).candidates
    reasoning_high = plan(replace(TENANT, budget_tier=BudgetTier.HIGH), task="reasoning").candidates
    embedding = plan(task="embedding").candidates
    assert all(m.budget_tier <= BudgetTier.LOW for m in chat_low)
    assert all(m.supports("reasoning") for m in reasoning_high)
    assert all(m.is_embedding for m in embedding)
    assert len({chat_low[0].id, reasoning_high[0].id, embedding[0].id}) == 3


def test_preferred_then_fallback_providers_come_first() -> None:
    settings = replace(TENANT, preferred_providers=("anthropic",), fallback_providers=("mistral",))
    result = plan(settings)
    providers = [m.provider for m in result.candidates]
    first_other = next(i for i, p in enumerate(providers) if p not in ("anthropic", "mistral"))
    assert set(providers[:first_other]) == {"anthropic", "mistral"}
    assert providers[0] == "anthropic" and "preferred provider anthropic" in result.reason
    assert providers.index("mistral") > max(i for i, p in enumerate(providers) if p == "anthropic")


def test_region_and_context_window_filter_candidates() -> None:
    eu = plan(replace(TENANT, region="eu")).candidates
    assert eu and all(m.available_in("eu") for m in eu)
    assert not any(m.provider == "openai" for m in eu)  # OpenAI's models are listed for "us" only
    long_prompt = plan(prompt_tokens=150_000).candidates
    assert all(m.context_window >= 150_100 for m in long_prompt)


def test_explicit_model_comes_first_and_fails_over_only_when_allowed() -> None:
    alone = plan(model_id="openai/gpt-4o-mini", allow_failover=False)
    assert [m.id for m in alone.candidates] == ["openai/gpt-4o-mini"]
    with_failover = plan(model_id="openai/gpt-4o-mini", allow_failover=True)
    assert with_failover.candidates[0].id == "openai/gpt-4o-mini" and len(with_failover.candidates) > 1


def test_nothing_eligible_says_what_to_change() -> None:
    with pytest.raises(NotFound, match="raise the tier or shorten the prompt"):
        plan(prompt_tokens=10_000_000)


def test_circuit_opens_after_repeated_failures_and_half_opens_after_cooldown() -> None:
    now = [0.0]
    book = HealthBook(threshold=3, cooldown=30, clock=lambda: now[0])
    for _ in range(3):
        assert book.allows("openai", "tenant:k1")
        book.record("openai", "tenant:k1", "openai/gpt-4o-mini", ok=False, retryable=True, latency_ms=5)
    assert not book.allows("openai", "tenant:k1")
    assert book.allows("openai", "tenant:k2"), "another key of the same provider is not affected"
    now[0] = 31
    assert book.allows("openai", "tenant:k1")  # the one trial call
    assert not book.allows("openai", "tenant:k1")  # no second one while it runs
    book.record("openai", "tenant:k1", "openai/gpt-4o-mini", ok=True, retryable=False, latency_ms=5)
    assert book.allows("openai", "tenant:k1")


def test_request_errors_do_not_trip_the_circuit_but_lower_the_success_rate() -> None:
    book = HealthBook(threshold=1)
    book.record("openai", "k", "openai/gpt-4o-mini", ok=False, retryable=False, latency_ms=5)
    assert book.allows("openai", "k")
    assert book.model_stats("openai/gpt-4o-mini").success_rate < 1
