"""Maximal marginal relevance over the fused candidates, chosen on the dev split.

    PYTHONPATH=src .venv/bin/python bench/quality_mmr.py [--split dev|test] [--outside DIR]

The semantic form of spreading the top 5: where quality_coverage rewards a chunk for the
question's words the places above it do not cover, MMR (Carbonell and Goldstein) lowers a
chunk by how close its vector is to the chunks already placed. Each of the first five places
goes greedily to the candidate among the fused top POOL (0.5 / 0.5 min-max, as the engine)
with the best LAMBDA x fused score - (1 - LAMBDA) x its highest cosine to a placed chunk;
places after the 5th keep the fused order. `--split test` and `--outside DIR` report only the
engine and --chosen.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
from quality_experiment import Fused, Reorder, experiment
from quality_labels import Question
from quality_thoth import BuiltIndex, Ranking

TOP = 5
POOLS = (10, 20)
LAMBDAS = (0.7, 0.8, 0.9)


def name_of(pool: int, lam: float) -> str:
    return f"mmr pool={pool} lambda={lam:g}"


def diversified(fused: Fused, vectors: np.ndarray, lam: float) -> Ranking:
    """`vectors[i]` is the vector of fused[i], for the first len(vectors) candidates (the pool)."""
    head = fused[: len(vectors)]
    rows = [row for row, _ in head]
    relevance = np.asarray([score for _, score in head], dtype=np.float32)
    closest = np.zeros(len(rows), dtype=np.float32)  # highest cosine to a placed chunk
    left = set(range(len(rows)))
    picked: list[int] = []
    while left and len(picked) < TOP:
        gain = lam * relevance - (1 - lam) * closest
        best = min(left, key=lambda i: (-float(gain[i]), i))  # ties: the fused order
        picked.append(best)
        left.discard(best)
        closest = np.maximum(closest, vectors @ vectors[best])
    placed = [rows[i] for i in picked]
    return placed + [row for row, _ in fused if row not in placed]


def main() -> int:
    exp = experiment(__doc__.split("\n\n")[0], "mmr")
    grid = {name_of(*g): g for g in itertools.product(POOLS, LAMBDAS)}

    def reorder_for(built: BuiltIndex) -> Reorder:
        def reorder(name: str, q: Question, fused: Fused) -> Ranking:
            pool, lam = grid[name]
            rows = np.asarray([row for row, _ in fused[:pool]], dtype=np.int64)
            return diversified(fused, built.index.dense_index.vectors(rows), lam)

        return reorder

    title = "Maximal marginal relevance over the fused top candidates (`bench/quality_mmr.py`)"
    exp.run_reorders(title, list(grid), reorder_for)
    return 0


if __name__ == "__main__":
    sys.exit(main())
