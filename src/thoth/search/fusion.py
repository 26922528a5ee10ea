"""Rank fusion. Reciprocal rank fusion (Cormack et al., 2009): each list contributes
1 / (k + rank) for every item it holds, rank counted from 1. k = 60 is the paper's value."""

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
    scores: dict[T, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))


def max_rrf_score(lists: int, k: int = RRF_K) -> float:
    """The score of an item ranked first in every one of `lists` rankings."""
    return lists / (k + 1)
