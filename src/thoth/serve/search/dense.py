"""Dense ranking over one snapshot's vectors: a query's best rows by cosine similarity.

The vectors live in one in-memory float32 matrix (numpy top-k is ~14x faster than LanceDB's
flat search, ENVIRONMENT). A snapshot with cells (thoth.bucket.cells) keeps its matrix in cell
order, so each cell is one contiguous block: a query scores the centroids, then scans only its
best cells' blocks. Gathering the same rows from a matrix in row order costs ~0.6 us a row
against ~0.13 us scanned in place (measured at 200,000 x 384), hence the cell order. Without
cells every vector is scored.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from thoth.bucket import cells as partition
from thoth.bucket.cells import Cells, normalised, probe_count
from thoth.bucket.records import vectors_of
from thoth.cpus import usable
from thoth.serve.search.stages import in_context, stage

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]
# Below this many rows per part a matrix-vector product is not split over threads. Scoring
# 200,000 x 384 floats reads 300 MB, which one core streams in ~25-35 ms (measured here);
# two cores, each on half the rows (BLAS releases the GIL), take ~25-40 % less.
SPLIT_ROWS = 65_536
# A path-prefix filter over at most this many rows, or at most the probed share of all rows,
# scores exactly those rows (a gather) instead of probing cells: probing a narrow range kept
# as little as 0.75 of its exact top 20 (review of the cells change).
GATHER_ROWS = 8_192


@functools.cache
def single_threaded_blas() -> None:
    """Run numpy's BLAS on one thread, process-wide. Measured here (2 vCPU, 3,000 chunks):
    a multi-threaded OpenBLAS matmul right after a LanceDB FTS query takes ~9 ms instead of
    0.3 ms (its threads contend with Lance's), so hybrid p50 went 12 ms -> 3.3 ms. Concurrent
    requests parallelise better across requests than inside one small matmul anyway."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # then set OPENBLAS_NUM_THREADS=1 in the environment
        log.warning("threadpoolctl missing: numpy BLAS stays multi-threaded")
        return
    threadpool_limits(limits=1, user_api="blas")


_POOL: ThreadPoolExecutor | None = None
_WORKERS = 0  # the pool's size, once it exists
_POOL_LOCK = threading.Lock()  # two first searches at once would otherwise each make one


def _pool() -> ThreadPoolExecutor:
    """The threads that score row blocks: as many as the process may keep busy (read once,
    when the first big scan needs them), shared by every search, so concurrent searches
    never run more blocks at once than that."""
    global _POOL, _WORKERS
    with _POOL_LOCK:
        if _POOL is None:
            _WORKERS = usable()
            _POOL = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="thoth-dense")
        return _POOL


def _parts(blocks: int) -> int:
    """Into how many parts to split a scan worth `blocks` blocks: 1 below two, so a small
    index never reads the CPU count (nor the settings) at all."""
    if blocks < 2:
        return 1
    _pool()
    return min(blocks, _WORKERS)


def _scores(matrix: Matrix, query: Matrix) -> Matrix:
    """matrix @ query, in row blocks on every usable CPU when the matrix is big enough to
    pay."""
    rows = matrix.shape[0]
    parts = _parts(rows // SPLIT_ROWS)
    if parts < 2:
        return matrix @ query
    out = np.empty(rows, dtype=np.float32)
    step = -(-rows // parts)
    blocks = [
        _pool().submit(in_context(_dot), matrix[lo : lo + step], query, out[lo : lo + step])
        for lo in range(0, rows, step)
    ]
    for block in blocks:
        block.result()
    return out


def _dot(rows: Matrix, query: Matrix, out: Matrix) -> None:
    with stage("dense"):  # a pool thread's CPU is the dense stage's too
        np.dot(rows, query, out)


Spans = list[tuple[int, int]]


def _span_scores(matrix: Matrix, spans: Spans, query: Matrix) -> Matrix:
    """matrix[a:b] @ query for each span, concatenated; split over the usable CPUs, in groups of
    about equal rows, from SPLIT_ROWS / 2 rows on (a probe of 200,000 chunks scans ~50,000)."""
    rows = sum(b - a for a, b in spans)
    parts = _parts(rows // (SPLIT_ROWS // 2))
    if parts < 2:
        return _dot_spans(matrix, spans, query, counted=False)
    groups: list[Spans] = [[] for _ in range(parts)]
    done = 0
    for a, b in spans:
        groups[min(parts - 1, done * parts // rows)].append((a, b))
        done += b - a
    blocks = [_pool().submit(in_context(_dot_spans), matrix, g, query) for g in groups if g]
    return np.concatenate([block.result() for block in blocks])


def _dot_spans(matrix: Matrix, spans: Spans, query: Matrix, *, counted: bool = True) -> Matrix:
    with stage("dense") if counted else contextlib.nullcontext():
        return np.concatenate([matrix[a:b] @ query for a, b in spans])


def best(scores: Matrix, depth: int) -> Rows:
    """Indices of the `depth` highest scores, best first (ties in index order)."""
    n = min(depth, len(scores))
    top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    ranked: Rows = top[np.argsort(-scores[top], kind="stable")].astype(np.int64)
    return ranked


class DenseIndex:
    """One snapshot's vectors, ranked against a query. Immutable once built."""

    def __init__(self, matrix: Matrix, order: Rows | None = None, bounds: Rows | None = None):
        """`matrix` in scan order. With cells, `order[i]` is the row of the matrix's i-th
        vector and cell c spans matrix[bounds[c]:bounds[c + 1]]; without, order is None and
        the matrix is in row order."""
        single_threaded_blas()
        self.matrix = matrix
        self.rows = len(matrix)
        self._order = order
        self._position: Rows | None = None
        if order is not None:  # the inverse: where each row's vector sits in the matrix
            self._position = np.empty(len(order), dtype=np.int64)
            self._position[order] = np.arange(len(order))
        self._bounds = bounds if bounds is not None else np.zeros(1, dtype=np.int64)
        self._probe = probe_count(len(self._bounds) - 1)
        self._centroids = self._means() if order is not None else matrix[:0]
        self._empty = np.diff(self._bounds) == 0

    @classmethod
    def of(cls, matrix: Matrix, cells: Cells | None = None, cell_count: int = 0) -> DenseIndex:
        """From a matrix in row order and, if the snapshot has them, each row's cell."""
        if cells is None or not cell_count:
            return cls(matrix)
        order, bounds = _cell_order(cells, cell_count, len(matrix))
        return cls(np.take(matrix, order, axis=0), order, bounds)

    @classmethod
    def from_arrow(
        cls, vectors: pa.ChunkedArray, dimensions: int, cells: Cells | None, cell_count: int
    ) -> DenseIndex:
        """From the snapshot's `vector` column, scattered chunk by chunk straight into cell
        order when there are cells: no second whole copy of the vectors is ever held."""
        if cells is None or not cell_count:
            return cls(vectors_of(vectors.combine_chunks(), dimensions))
        order, bounds = _cell_order(cells, cell_count, len(vectors))
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        # zeros, not empty: calloc'd pages took the scattered writes faster here (0.1-0.16 s
        # against 0.1-2.1 s at 200,000 rows, over several runs)
        matrix = np.zeros((len(order), dimensions), dtype=np.float32)
        start = 0
        for chunk in vectors.chunks:
            part = vectors_of(chunk, dimensions)
            matrix[position[start : start + len(part)]] = part
            start += len(part)
        return cls(matrix, order, bounds)

    def _means(self) -> Matrix:
        """Each cell's normalised mean vector (an empty cell's is zero)."""
        sizes = np.diff(self._bounds)
        starts = self._bounds[:-1][sizes > 0]
        sums = np.zeros((len(sizes), self.matrix.shape[1]), dtype=np.float32)
        if len(starts):
            sums[sizes > 0] = np.add.reduceat(self.matrix, starts, axis=0)
        return normalised(sums)

    @property
    def cells(self) -> int:
        return 0 if self._order is None else len(self._bounds) - 1

    def search(
        self, query: Matrix, depth: int, lo: int = 0, hi: int | None = None, *, exact: bool = False
    ) -> tuple[Rows, Matrix]:
        """The best `depth` rows in [lo, hi) and their cosine scores, best first. `exact`
        scores every row even where cells exist (for measuring what probing misses)."""
        hi = self.rows if hi is None else hi
        if hi <= lo:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if self._order is None:
            scores = _scores(self.matrix[lo:hi], query)
            top = best(scores, depth)
            return lo + top, scores[top]
        whole = (lo, hi) == (0, self.rows)
        if not whole and hi - lo <= max(GATHER_ROWS, int(self.rows * partition.PROBE_SHARE)):
            return self._gathered(query, depth, lo, hi)
        if not exact:
            rows, scores = self._probed(query, lo, hi)
            if len(rows) >= min(depth, hi - lo):
                top = best(scores, depth)
                return rows[top], scores[top]
        rows, scores = self._order, _scores(self.matrix, query)
        if not whole:
            keep = (rows >= lo) & (rows < hi)
            rows, scores = rows[keep], scores[keep]
        top = best(scores, depth)
        return rows[top], scores[top]

    def vectors(self, rows: Rows) -> Matrix:
        """The vectors of `rows`, wherever cell order put them (a few: a gather)."""
        at = rows if self._position is None else self._position[rows]
        gathered: Matrix = self.matrix[at]
        return gathered

    def score_rows(self, rows: Rows, query: Matrix) -> Matrix:
        """The exact cosine of each of `rows` (a few: a gather)."""
        scores: Matrix = self.vectors(rows) @ query
        return scores

    def _probed(self, query: Matrix, lo: int, hi: int) -> tuple[Rows, Matrix]:
        """Every row of the best cells, with its score, restricted to [lo, hi)."""
        assert self._order is not None
        near = self._centroids @ query
        near[self._empty] = -np.inf  # an empty cell's zero centroid must not take a slot
        cells = np.argpartition(-near, self._probe - 1)[: self._probe]
        spans = [(int(self._bounds[c]), int(self._bounds[c + 1])) for c in np.sort(cells)]
        scores = _span_scores(self.matrix, spans, query)
        rows = np.concatenate([self._order[a:b] for a, b in spans])
        if (lo, hi) != (0, self.rows):
            keep = (rows >= lo) & (rows < hi)
            rows, scores = rows[keep], scores[keep]
        return rows, scores

    def _gathered(self, query: Matrix, depth: int, lo: int, hi: int) -> tuple[Rows, Matrix]:
        """Every row of [lo, hi) scored exactly: a range no bigger than a probe costs about
        what probing would, and probing could leave few of its rows."""
        assert self._position is not None and self._order is not None
        position = np.sort(self._position[lo:hi])  # in memory order: fewer cache misses
        scores: Matrix = self.matrix[position] @ query
        top = best(scores, depth)
        return self._order[position[top]], scores[top]


def _cell_order(cells: Cells, cell_count: int, rows: int) -> tuple[Rows, Rows]:
    """The rows sorted by cell (stable), and where each cell's run starts and ends."""
    if len(cells) != rows or (rows and not 0 <= cells.min() <= cells.max() < cell_count):
        raise ValueError(f"the cell column does not fit {rows} rows in {cell_count} cells")
    order: Rows = np.argsort(cells, kind="stable").astype(np.int64)
    bounds: Rows = np.searchsorted(cells[order], np.arange(cell_count + 1)).astype(np.int64)
    return order, bounds
