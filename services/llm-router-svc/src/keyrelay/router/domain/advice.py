"""Cost-saving recommendations from the usage ledger (SPEC §5). Pure.

For each model a tenant spent money on, find the cheapest catalog model that does every
task the current one does, in the same or a cheaper tier, and estimate the monthly saving
if the same tokens had gone there. Only savings of at least $0.01/month are reported.
"""

from __future__ import annotations

from typing import Any

from keyrelay.common.errors import NotFound
from keyrelay.router.domain.catalog import ModelCatalog


def recommendations(catalog: ModelCatalog, by_model: list[Any], days: int) -> list[dict[str, Any]]:
    advice = []
    for row in by_model:
        try:
            current = catalog.get(row.key)
        except NotFound:
            continue
        if row.cost_micros <= 0:
            continue
        peers = [
            m
            for m in catalog.list(tier=current.budget_tier)
            if m.id != current.id and set(current.tasks) <= set(m.tasks)
        ]
        if not peers:
            continue
        cheaper = min(peers, key=lambda m: m.cost_micros(row.prompt_tokens, row.completion_tokens))
        alternative = cheaper.cost_micros(row.prompt_tokens, row.completion_tokens)
        saving_usd = (row.cost_micros - alternative) / 1_000_000 * 30 / max(days, 1)
        if saving_usd >= 0.01:
            advice.append(
                {
                    "message": (
                        f"{cheaper.id} does every task {current.id} does; the same tokens would have cost "
                        f"{alternative / max(row.cost_micros, 1):.0%} as much"
                    ),
                    "current_model": current.id,
                    "suggested_model": cheaper.id,
                    "estimated_monthly_savings_usd": round(saving_usd, 2),
                }
            )
    return sorted(advice, key=lambda a: -a["estimated_monthly_savings_usd"])


def recommend(results: list[tuple[str, float, int]]) -> tuple[str, str]:
    """Pick from benchmark results (model, latency ms, cost micros): the cheapest model whose
    latency is within 1.5x of the fastest; ties go to the faster one."""
    if not results:
        return "", "no model answered; see each result's error"
    fastest = min(r[1] for r in results)
    acceptable = [r for r in results if r[1] <= 1.5 * fastest]
    model, latency, cost = min(acceptable, key=lambda r: (r[2], r[1]))
    cheapest_overall = min(results, key=lambda r: r[2])
    why = f"{model}: cheapest within 1.5x of the fastest ({latency:.0f} ms vs {fastest:.0f} ms)"
    if cheapest_overall[0] != model:
        why += f"; {cheapest_overall[0]} is cheaper but slower ({cheapest_overall[1]:.0f} ms)"
    return model, why
