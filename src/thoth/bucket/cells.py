"""A snapshot's coarse partition of its vectors into cells (an inverted-file index), written
once with the snapshot and read by the MCP server: the one place both sides agree on it.

A snapshot of at least MIN_ROWS chunks gets about sqrt(rows) cells: k-means (spherical, on a
seeded sample, so the same vectors always give the same cells) and every vector assigned to
its nearest centroid, stored as the `cell` column of the chunks table and counted in the
manifest. Serving recomputes each centroid as its cell's normalised mean, scores the centroids
and scans only the vectors of the best `probe_count` cells. Smaller snapshots have no cells:
a full scan of 32,768 vectors costs ~4 ms of CPU on this project's 2-vCPU host.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

CELL_COLUMN = "cell"
MIN_ROWS = 32_768
SAMPLE_PER_CELL = 64  # k-means trains on this many vectors per cell (all of them if fewer)
ITERATIONS = 10
SEED = 0
# Share of the cells a query scans. Chosen on the quality bench's dev split with cells forced
# on its corpora (--cells-from 1000): hybrid recall@5 equal to a full scan at 0.15 and 0.25,
# R@10 and MRR@10 closer at 0.25; on the synthetic 200,000-chunk snapshot 0.25 keeps 0.997
# of the exact top 5 and costs ~10 ms of CPU against ~33 (bench/cells.py;
# docs/performance.md, "Cells").
PROBE_SHARE = 0.25
MIN_PROBE = 8
_BLOCK = 16_384  # rows scored against the centroids at a time (bounds the temporary)

Matrix = npt.NDArray[np.float32]
Cells = npt.NDArray[np.int32]
Rows = npt.NDArray[np.int64]


def cell_count(rows: int) -> int:
    """How many cells a snapshot of `rows` chunks gets; 0: none, search scans every vector."""
    return round(math.sqrt(rows)) if rows >= MIN_ROWS else 0


def probe_count(cells: int) -> int:
    """How many of `cells` cells a query scans."""
    return min(cells, max(MIN_PROBE, math.ceil(cells * PROBE_SHARE)))


def partition(vectors: Matrix, cells: int) -> Cells:
    """Each row's cell among `cells`, by spherical k-means over L2-normalised `vectors`."""
    return nearest(vectors, centroids(lambda rows: vectors[rows], len(vectors), cells))


def centroids(pick: Callable[[Rows], Matrix], rows: int, cells: int) -> Matrix:
    """The `cells` centroids k-means finds for `rows` vectors, of which it reads only a
    seeded sample: `pick(positions)` returns the vectors at those (sorted) positions, so a
    caller can assign the rows a slice at a time with `nearest`."""
    if cells < 1 or rows < cells:
        raise ValueError(f"cannot cut {rows} vectors into {cells} cells")
    rng = np.random.default_rng(SEED)
    size = min(rows, cells * SAMPLE_PER_CELL)
    sample = pick(np.sort(rng.choice(rows, size, replace=False)))
    found = sample[rng.choice(size, cells, replace=False)].copy()
    for _ in range(ITERATIONS):
        found = _means(sample, nearest(sample, found), found, rng)
    return found


def nearest(vectors: Matrix, centroids: Matrix) -> Cells:
    """The index of each row's most similar centroid (inner product)."""
    out = np.empty(len(vectors), dtype=np.int32)
    for lo in range(0, len(vectors), _BLOCK):
        out[lo : lo + _BLOCK] = np.argmax(vectors[lo : lo + _BLOCK] @ centroids.T, axis=1)
    return out


def _means(sample: Matrix, assigned: Cells, centroids: Matrix, rng: np.random.Generator) -> Matrix:
    """Normalised mean of each cell's members; an empty cell restarts at a random member."""
    sums = np.zeros_like(centroids)
    np.add.at(sums, assigned, sample)
    empty = np.flatnonzero(np.bincount(assigned, minlength=len(centroids)) == 0)
    sums[empty] = sample[rng.choice(len(sample), len(empty), replace=False)]
    return normalised(sums)


def normalised(rows: Matrix) -> Matrix:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    out: Matrix = (rows / np.maximum(norms, 1e-12)).astype(np.float32)
    return out
