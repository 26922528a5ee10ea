"""Reranking: a cross-encoder re-reads the best candidates of a search with the query
(search_handbook's rerank=true; the model is thoth.embedding.reranker).

The first CANDIDATES fused candidates are scored by the cross-encoder, each
read as a result shows it (title and heading path, then the text). A candidate's new score is
CROSS_WEIGHT x its min-max normalised cross-encoder score + (1 - CROSS_WEIGHT) x its place in
the fused ranking (1 for the first, falling linearly to 0 for the last): the cross-encoder
leads, and where it hesitates the hybrid ranking decides. Candidates below the cut follow in
their fused order with score 0. Both numbers were chosen on bench/quality.py's dev split
(docs/quality.md, "The cross-encoder reranker").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

CANDIDATES = 20
CROSS_WEIGHT = 0.7

K = TypeVar("K")


class Reranker(Protocol):
    """What reranking needs from a cross-encoder (thoth.embedding.reranker has it)."""

    def scores(self, query: str, passages: Sequence[str]) -> npt.NDArray[np.float32]: ...


def shown_text(title: str, heading: str, text: str) -> str:
    """A chunk as a result shows it: "Title > Heading", a blank line, then the text."""
    path = " > ".join(part for part in (title, heading) if part)
    return f"{path}\n\n{text}" if path else text


def reranked(
    query: str,
    ranked: Sequence[tuple[K, float]],
    cut: int,
    text_of: Callable[[K], str],
    reranker: Reranker,
    weight: float = CROSS_WEIGHT,
) -> list[tuple[K, float]]:
    """`ranked` (best first) with its first `cut` items reordered as the module says; `weight`
    is the cross-encoder's share (the bench tries others)."""
    top = list(ranked[:cut])
    if not top:
        return []
    cross = np.asarray(reranker.scores(query, [text_of(key) for key, _ in top]), np.float64)
    if cross.shape != (len(top),):
        raise ValueError(f"the reranker gave {cross.shape} scores for {len(top)} passages")
    spread = float(cross.max() - cross.min())
    cross = (cross - cross.min()) / spread if spread > 0 else np.ones_like(cross)
    place = np.linspace(1.0, 0.0, len(top)) if len(top) > 1 else np.ones(1)
    blended = weight * cross + (1.0 - weight) * place
    order = np.argsort(-blended, kind="stable")
    head = [(top[i][0], float(blended[i])) for i in order]
    return head + [(key, 0.0) for key, _ in ranked[cut:]]
