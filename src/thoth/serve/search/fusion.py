"""Fusing ranked lists.

The default, `weighted_minmax_fusion`, rescales each list's scores to 0..1 (min-max over
the candidates it returned) and sums them with weights; an item a list did not return scores 0
there. On the quality bench's dev split (bench/quality.py --variants) equal weights had the
best MRR@10 and the best recall@5 + MRR@10 of the RRF settings tried (k 5-60, dense weighted
0.67-1.5); with k=60, a chunk ranked ~20th by both rankers outscored dense's first.

Reciprocal rank fusion (Cormack et al., 2009) stays for comparison: each list contributes
weight / (k + rank) for every item it holds, rank counted from 1; k = 60 is the paper's value."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

RRF_K = 60

T = TypeVar("T", bound=Hashable)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[T]], k: int = RRF_K
) -> list[tuple[T, float]]:
    """Fuse best-first rankings into one best-first list of (item, score). Ties keep the
    order in which items first appear (earlier lists, better ranks first)."""
    return weighted_rrf(rankings, [1.0] * len(rankings), k)


def weighted_rrf(
    rankings: Sequence[Sequence[T]], weights: Sequence[float], k: int = RRF_K
) -> list[tuple[T, float]]:
    """RRF where list i contributes weights[i] / (k + rank); same ties rule."""
    scores: dict[T, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))


def max_rrf_score(lists: int, k: int = RRF_K) -> float:
    """The score of an item ranked first in every one of `lists` rankings."""
    return lists / (k + 1)


def weighted_minmax_fusion(
    lists: Sequence[Sequence[tuple[T, float]]], weights: Sequence[float]
) -> list[tuple[T, float]]:
    """Fuse best-first (item, score) lists. With weights summing to 1, an item first in every
    list scores 1.0. Ties keep the order in which items first appear."""
    scores: dict[T, float] = {}
    for ranking, weight in zip(lists, weights, strict=True):
        if not ranking:
            continue
        values = [score for _, score in ranking]
        low, high = min(values), max(values)
        span = high - low
        for item, score in ranking:
            normalised = (score - low) / span if span > 0 else 1.0
            scores[item] = scores.get(item, 0.0) + weight * normalised
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))
