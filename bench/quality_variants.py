"""Fusion variants of Thoth's two rankers, tried on the dev split (`quality.py --variants`).

Fused here from the engine's own dense and BM25 rankings (SourceIndex.dense/fulltext, taken
DEEP deep), plus BM25 over title + heading path + text (a bench-only LanceDB table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from quality_thoth import ENGINE_DEPTH, Ranking, Retrieved, ranking_of

from thoth.serve.search.fusion import reciprocal_rank_fusion


def rrf(
    dense: Ranking, fulltext: Ranking, *, k: int, depth: int, weights: tuple[float, float]
) -> Ranking:
    """Weighted RRF of the two rankings cut to `depth` (weights (1, 1) = the engine's)."""
    if weights == (1.0, 1.0):
        return [row for row, _ in reciprocal_rank_fusion([dense[:depth], fulltext[:depth]], k)]
    scores: dict[int, float] = {}
    for ranking, weight in ((dense[:depth], weights[0]), (fulltext[:depth], weights[1])):
        for rank, row in enumerate(ranking, start=1):
            scores[row] = scores.get(row, 0.0) + weight / (k + rank)
    order = {row: i for i, row in enumerate(scores)}
    return sorted(scores, key=lambda row: (-scores[row], order[row]))


def minmax(
    dense: list[tuple[int, float]], fulltext: list[tuple[int, float]], *, alpha: float
) -> Ranking:
    """alpha * min-max(cosine) + (1 - alpha) * min-max(BM25), missing scores count 0."""

    def scaled(pairs: list[tuple[int, float]]) -> dict[int, float]:
        if not pairs:
            return {}
        lo, hi = min(s for _, s in pairs), max(s for _, s in pairs)
        return {row: (s - lo) / (hi - lo) if hi > lo else 1.0 for row, s in pairs}

    d, f = scaled(dense), scaled(fulltext)
    scores = {row: alpha * d.get(row, 0.0) + (1 - alpha) * f.get(row, 0.0) for row in d | f}
    return sorted(scores, key=lambda row: (-scores[row], row))


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    rank: Callable[[Retrieved], Ranking]


def _rrf_variant(
    name: str, description: str, k: int, depth: int, w: float = 1.0, titled: bool = False
) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        fulltext = got.titled if titled else got.fulltext
        return rrf(ranking_of(got.dense), ranking_of(fulltext), k=k, depth=depth, weights=(w, 1.0))

    return Variant(name, description, rank)


def _minmax_variant(name: str, description: str, alpha: float) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        return minmax(got.dense[:ENGINE_DEPTH], got.fulltext[:ENGINE_DEPTH], alpha=alpha)

    return Variant(name, description, rank)


DEFAULT_REFUSED = "rrf k=60 d=50"
FUSION_VARIANTS: list[Variant] = [
    _rrf_variant(DEFAULT_REFUSED, "the engine's fusion re-done here (equals hybrid)", 60, 50),
    _rrf_variant("rrf k=10 d=50", "sharper RRF: top ranks count more", 10, 50),
    _rrf_variant("rrf k=60 d=20", "shallower candidate lists", 60, 20),
    _rrf_variant("rrf k=60 d=100", "deeper candidate lists", 60, 100),
    _rrf_variant("rrf k=60 d=50 w=1.5:1", "dense-weighted RRF", 60, 50, 1.5),
    _rrf_variant("rrf k=60 d=50 w=2:1", "dense-weighted RRF", 60, 50, 2.0),
    _rrf_variant("rrf k=10 d=50 w=2:1", "sharper, dense-weighted RRF", 10, 50, 2.0),
    _minmax_variant("minmax a=0.5", "min-max normalised cosine + BM25, equal weights", 0.5),
    _minmax_variant("minmax a=0.7", "min-max normalised cosine + BM25, dense 0.7", 0.7),
    _minmax_variant("minmax a=0.8", "min-max normalised cosine + BM25, dense 0.8", 0.8),
    Variant(
        "fulltext+title",
        "BM25 over title + heading path + text (as embedded), alone",
        lambda got: ranking_of(got.titled),
    ),
    _rrf_variant(
        "rrf k=60 d=50 +title",
        "default fusion, BM25 over title + heading + text",
        60,
        50,
        1.0,
        True,
    ),
    _rrf_variant(
        "rrf k=10 d=50 +title", "sharper RRF, BM25 over title + heading + text", 10, 50, 1.0, True
    ),
]


# --- corpora and indexes -----------------------------------------------------------------
