"""Reciprocal rank fusion of several rankings (vector search, full-text search). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = RRF_K, limit: int | None = None
) -> list[tuple[str, float]]:
    """Fuse rankings of ids into one: score(id) = sum of 1 / (k + rank), rank counted from 1.

    Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and individual
    Rank Learning Methods", SIGIR 2009 (k = 60 is their value). An id repeated within one
    ranking counts once, at its best rank. Best score first; ties go to the id with the best
    single rank, then to the smaller id, so the order is deterministic.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")
    ranks: dict[str, list[int]] = {}
    for ranking in rankings:
        seen: set[str] = set()
        for rank, item in enumerate(ranking, start=1):
            if item not in seen:
                seen.add(item)
                ranks.setdefault(item, []).append(rank)
    # Exact arithmetic, so equal sums tie exactly whatever the ranks and their order.
    fused = [(item, sum(Fraction(1, k + r) for r in rs), min(rs)) for item, rs in ranks.items()]
    fused.sort(key=lambda f: (-f[1], f[2], f[0]))
    return [(item, float(score)) for item, score, _ in fused[:limit]]
