"""Which models may serve a request, in which order, and why (SPEC §5). Pure.

`auto` (or a task type): candidates are the models that support the task, sit at or below
the tenant's budget tier, fit the prompt and the requested output in their context
window, and are offered in the tenant's region. They are ranked: the tenant's preferred
providers first (in its order), then its fallback providers, then the rest; within each
group by the request's estimated cost, then observed latency (EWMA), then success rate.
Whether a candidate has a usable key is known only when the gateway resolves it, so the
gateway walks this list and skips candidates without one.

An explicit model id skips ranking: it comes first, followed by the ranked candidates only
when failover is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from keyrelay.common.errors import InvalidArgument, NotFound
from keyrelay.router.domain.catalog import BudgetTier, Model, ModelCatalog
from keyrelay.router.domain.health import HealthBook
from keyrelay.router.domain.settings import TenantSettings

DEFAULT_MAX_OUTPUT = 1024  # reservation and fit checks when the request sets no max_tokens


@dataclass(frozen=True)
class RoutePlan:
    candidates: tuple[Model, ...]
    reason: str


def output_budget(model: Model, max_tokens: int | None) -> int:
    return max_tokens or min(model.max_output_tokens or DEFAULT_MAX_OUTPUT, DEFAULT_MAX_OUTPUT)


def max_cost_micros(model: Model, prompt_tokens: int, max_tokens: int | None) -> int:
    """The most this request can cost on this model: what the budget reserves."""
    return model.cost_micros(prompt_tokens, output_budget(model, max_tokens))


def _eligible(
    model: Model, task: str, settings: TenantSettings, prompt_tokens: int, max_tokens: int | None
) -> bool:
    if not model.supports(task) or model.budget_tier > settings.budget_tier:
        return False
    if task != "embedding" and prompt_tokens + output_budget(model, max_tokens) > model.context_window:
        return False
    if not model.available_in(settings.region):
        return False
    return True


def plan_route(
    catalog: ModelCatalog,
    settings: TenantSettings,
    health: HealthBook,
    *,
    task: str,
    model_id: str,
    prompt_tokens: int,
    max_tokens: int | None,
    allow_failover: bool | None,
    max_tier: BudgetTier | None = None,
) -> RoutePlan:
    explicit = bool(model_id and model_id != "auto")
    if explicit:
        chosen = catalog.get(model_id)
        if not chosen.supports(task) and task != "chat":
            raise InvalidArgument(
                f"model {model_id} does not support task '{task}'; pick another or use auto"
            )
        if chosen.budget_tier > settings.budget_tier:
            raise InvalidArgument(
                f"model {model_id} is in budget tier {chosen.budget_tier.name}, above the tenant's tier "
                f"{settings.budget_tier.name}; raise budget_tier in the tenant settings or pick a "
                "cheaper model"
            )
        if not allow_failover:  # nothing to rank
            return RoutePlan((chosen,), f"explicit model {model_id}")
    tier_settings = settings
    if max_tier is not None and max_tier < settings.budget_tier:
        tier_settings = replace(settings, budget_tier=max_tier)
    preferred = {p: i for i, p in enumerate(settings.preferred_providers)}
    fallback = {p: i for i, p in enumerate(settings.fallback_providers)}

    def group(provider: str) -> tuple[int, int]:
        if provider in preferred:
            return 0, preferred[provider]
        if provider in fallback:
            return 1, fallback[provider]
        return 2, 0

    def rank(model: Model) -> tuple[int, int, int, float, float]:
        stats = health.model_stats(model.id)
        cost = max_cost_micros(model, prompt_tokens, max_tokens)
        return (*group(model.provider), cost, stats.latency_ms or 0.0, -stats.success_rate)

    ranked = sorted(
        (m for m in catalog.list() if _eligible(m, task, tier_settings, prompt_tokens, max_tokens)), key=rank
    )
    if explicit:
        rest = [m for m in ranked if m.id != chosen.id] if allow_failover else []
        return RoutePlan((chosen, *rest), f"explicit model {model_id}" + (" with failover" if rest else ""))
    if not ranked:
        raise NotFound(
            f"no model supports task '{task}' within budget tier {tier_settings.budget_tier.name}"
            + (f" in region '{settings.region}'" if settings.region else "")
            + f" for a {prompt_tokens}-token prompt; raise the tier or shorten the prompt"
        )
    first = ranked[0]
    if first.provider in preferred:
        why = f"preferred provider {first.provider}"
    elif first.provider in fallback:
        why = f"fallback provider {first.provider}"
    else:
        why = "cheapest eligible model"
    region = f", region {settings.region}" if settings.region else ""
    reason = f"auto: {task} within tier {tier_settings.budget_tier.name}{region}; {first.id} first ({why})"
    return RoutePlan(tuple(ranked), reason)
