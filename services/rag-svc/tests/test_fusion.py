"""Reciprocal rank fusion."""

from __future__ import annotations

import pytest

from keyrelay.rag.domain.fusion import RRF_K, reciprocal_rank_fusion


def test_scores_are_sums_of_reciprocal_ranks() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]]))
    assert RRF_K == 60
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)


def test_items_found_by_both_rankings_rise_to_the_top() -> None:
    vector = ["v1", "both", "v2", "v3"]
    text = ["t1", "t2", "both"]
    assert [item for item, _ in reciprocal_rank_fusion([vector, text])] == [
        "both",
        "t1",
        "v1",
        "t2",
        "v2",
        "v3",
    ]


def test_ties_on_score_and_best_rank_go_to_the_smaller_id() -> None:
    assert [item for item, _ in reciprocal_rank_fusion([["b", "a"], ["a", "b"]])] == ["a", "b"]
    assert [item for item, _ in reciprocal_rank_fusion([["d"], ["c"]])] == ["c", "d"]


def test_equal_ranks_give_exactly_equal_scores_in_any_order() -> None:
    rankings = [
        ["p", "q", "r"],
        ["r", "q", "p"],
        ["q", "p", "r"],
        ["r", "p", "q"],
        ["q", "r", "p"],
        ["p", "r", "q"],
    ]
    fused = dict(reciprocal_rank_fusion(rankings, k=7))
    assert fused["p"] == fused["q"] == fused["r"]
    assert reciprocal_rank_fusion(rankings, k=7) == reciprocal_rank_fusion(rankings[::-1], k=7)


def test_tie_on_score_prefers_the_better_single_rank_over_the_id() -> None:
    # k=0: m = 1/2 + 1/6 = 2/3 (best rank 2); c = 1/3 + 1/3 = 2/3 (best rank 3).
    first = ["x", "m", "c", "y", "z", "w"]
    second = ["u", "v", "c", "s", "t", "m"]
    fused = reciprocal_rank_fusion([first, second], k=0)
    scores = dict(fused)
    assert scores["m"] == scores["c"] == pytest.approx(2 / 3)
    order = [item for item, _ in fused]
    assert order.index("m") == order.index("c") - 1


def test_a_repeated_id_counts_once_at_its_best_rank() -> None:
    assert reciprocal_rank_fusion([["a", "b", "a"]]) == [("a", 1 / 61), ("b", 1 / 62)]


def test_limit_and_empty_input() -> None:
    assert [i for i, _ in reciprocal_rank_fusion([["a", "b", "c"]], limit=2)] == ["a", "b"]
    assert reciprocal_rank_fusion([["a"]], limit=0) == []
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


@pytest.mark.parametrize("kwargs", [{"k": -1}, {"limit": -1}])
def test_bad_arguments_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], **kwargs)
