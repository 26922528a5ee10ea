"""Reciprocal rank fusion arithmetic."""

from __future__ import annotations

import pytest

from thoth.serve.search.fusion import (
    max_rrf_score,
    reciprocal_rank_fusion,
    weighted_minmax_fusion,
    weighted_rrf,
)


def test_rrf_scores() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 63)
    assert fused["d"] == pytest.approx(1 / 62)


def test_rrf_order_and_ties() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "a"], ["c"]])
    # a and b tie (1/61 + 1/62); a appeared first. c has 1/61 only.
    assert [item for item, _ in fused] == ["a", "b", "c"]


def test_agreement_beats_one_strong_vote() -> None:
    fused = reciprocal_rank_fusion([["x", "both"], ["y", "both"]])
    assert fused[0][0] == "both"


def test_max_score_is_first_in_every_list() -> None:
    fused = reciprocal_rank_fusion([["a"], ["a"]])
    assert fused[0][1] == pytest.approx(max_rrf_score(2))


def test_empty() -> None:
    assert reciprocal_rank_fusion([[], []]) == []


def test_weighted_minmax_fusion() -> None:
    dense = [("a", 0.9), ("b", 0.5), ("c", 0.1)]
    fulltext = [("c", 12.0), ("d", 2.0)]
    fused = dict(weighted_minmax_fusion([dense, fulltext], (0.75, 0.25)))
    assert fused["a"] == 0.75  # top of dense, absent from full text
    assert fused["c"] == 0.25  # bottom of dense, top of full text
    assert fused["b"] == 0.75 * 0.5
    assert fused["d"] == 0.0
    both_first = weighted_minmax_fusion([[("x", 3.0)], [("x", 7.0)]], (0.75, 0.25))
    assert both_first == [("x", 1.0)]
    assert weighted_minmax_fusion([[], []], (0.5, 0.5)) == []


def test_weighted_rrf() -> None:
    fused = dict(weighted_rrf([["a", "b"], ["b", "c"]], (2.0, 1.0), k=10))
    assert fused["a"] == pytest.approx(2 / 11)
    assert fused["b"] == pytest.approx(2 / 12 + 1 / 11)
    assert fused["c"] == pytest.approx(1 / 12)
    equal = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=10)
    assert weighted_rrf([["a", "b"], ["b", "c"]], (1.0, 1.0), k=10) == equal
