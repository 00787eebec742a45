"""Latency figures as the benches print them."""

from __future__ import annotations

import statistics


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 (inclusive method: defined for any sample size)."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), cuts[94], cuts[98]
