"""The vectors' coarse partition (thoth.bucket.cells) and dense ranking over it
(thoth.serve.search.dense): cells are deterministic, probing finds what a full scan finds on
clustered data, filters stay exact, and a snapshot written with cells loads and serves them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tests.support.snapshots import SAMPLE_DOCS, make_snapshot
from thoth.bucket import cells
from thoth.bucket.snapshot import open_snapshot
from thoth.serve.search import SourceIndex
from thoth.serve.search.dense import DenseIndex, best

DIMS = 16


def labelled(rows: int, clusters: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around `clusters` random centres, and each one's cluster."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, DIMS))
    labels = rng.integers(0, clusters, rows)
    points = centres[labels] + 0.15 * rng.normal(size=(rows, DIMS))
    return cells.normalised(points.astype(np.float32)), labels


def clustered(rows: int, clusters: int, seed: int = 1) -> np.ndarray:
    return labelled(rows, clusters, seed)[0]


def exact(matrix: np.ndarray, query: np.ndarray, depth: int) -> list[int]:
    return [int(i) for i in best(matrix @ query, depth)]


def test_counts() -> None:
    assert cells.cell_count(cells.MIN_ROWS - 1) == 0
    assert cells.cell_count(200_000) == 447
    assert cells.probe_count(447) == 112
    assert cells.probe_count(3) == 3  # never more than there are


def test_partition_is_deterministic_and_follows_the_clusters() -> None:
    matrix, labels = labelled(2_000, 8)
    first = cells.partition(matrix, 8)
    assert np.array_equal(first, cells.partition(matrix.copy(), 8))
    assert first.dtype == np.int32
    assert first.min() >= 0
    assert first.max() < 8
    # points of one true cluster land in few cells (k-means may split one and merge two)
    purity = sum(np.bincount(first[labels == k]).max() for k in range(8)) / 2_000
    assert purity > 0.9


def test_partition_refuses_more_cells_than_rows() -> None:
    with pytest.raises(ValueError, match="cannot cut"):
        cells.partition(clustered(5, 2), 6)


@pytest.fixture(scope="module")
def probed() -> tuple[np.ndarray, DenseIndex]:
    matrix = clustered(4_000, 40)
    return matrix, DenseIndex.of(matrix, cells.partition(matrix, 64), 64)


def test_probing_finds_the_exact_top_rows(probed: tuple[np.ndarray, DenseIndex]) -> None:
    matrix, index = probed
    assert index.cells == 64
    found = 0
    for query in matrix[:50]:
        rows, scores = index.search(query, 10)
        assert np.allclose(scores, matrix[rows] @ query, atol=1e-5)
        assert list(scores) == sorted(scores, reverse=True)
        found += len(set(rows.tolist()) & set(exact(matrix, query, 10)))
    assert found / 500 > 0.95


def test_exact_search_scores_every_row(probed: tuple[np.ndarray, DenseIndex]) -> None:
    matrix, index = probed
    query = cells.normalised(np.ones((1, DIMS), dtype=np.float32))[0]
    rows, _ = index.search(query, 25, exact=True)
    assert rows.tolist() == exact(matrix, query, 25)


@pytest.mark.parametrize(("lo", "hi"), [(100, 300), (0, 4_000), (1_000, 3_900), (3_990, 4_000)])
def test_a_row_range_is_respected(
    probed: tuple[np.ndarray, DenseIndex], lo: int, hi: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thoth.serve.search import dense

    monkeypatch.setattr(dense, "GATHER_ROWS", 250)  # (100, 300) is gathered, the rest probed
    matrix, index = probed
    query = matrix[lo]
    rows, _ = index.search(query, 20, lo, hi)
    assert len(rows) == min(20, hi - lo)
    assert all(lo <= r < hi for r in rows)
    assert rows[0] == lo  # the row the query was taken from


def test_too_few_probed_rows_in_range_falls_back_to_a_full_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from thoth.serve.search import dense

    monkeypatch.setattr(dense, "GATHER_ROWS", 0)
    unordered = clustered(4_000, 40)
    assigned = cells.partition(unordered, 64)
    matrix = unordered[np.argsort(assigned, kind="stable")]  # rows grouped by cell
    index = DenseIndex.of(matrix, np.sort(assigned), 64)
    query = cells.normalised(-matrix[500:1_000].sum(0, keepdims=True))[0]
    near = set(index.search(query, 4_000 // 64 * 2)[0].tolist())
    assert not near & set(range(500, 1_000))  # probing alone keeps none of the range
    rows, _ = index.search(query, 30, 500, 1_000)
    assert rows.tolist() == [500 + r for r in exact(matrix[500:1_000], query, 30)]


def test_vectors_are_read_by_row_in_cell_order(probed: tuple[np.ndarray, DenseIndex]) -> None:
    matrix, index = probed
    rows = np.array([3, 0, 3_999, 1_234], dtype=np.int64)
    assert np.array_equal(index.vectors(rows), matrix[rows])
    assert not np.array_equal(index.matrix[rows], matrix[rows])  # the matrix is in cell order


def test_arrow_chunks_are_scattered_into_cell_order() -> None:
    matrix = clustered(1_000, 5)
    assigned = cells.partition(matrix, 10)
    flat = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), DIMS)
    column = pa.chunked_array([flat.slice(0, 333), flat.slice(333, 600), flat.slice(933)])
    from_arrow = DenseIndex.from_arrow(column, DIMS, assigned, 10)
    direct = DenseIndex.of(matrix, assigned, 10)
    assert np.array_equal(from_arrow.matrix, direct.matrix)
    query = matrix[7]
    assert np.array_equal(from_arrow.search(query, 5)[0], direct.search(query, 5)[0])
    plain = DenseIndex.from_arrow(column, DIMS, None, 0)
    assert np.array_equal(plain.matrix, matrix) and plain.cells == 0


def test_cells_must_fit_the_rows() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        DenseIndex.of(clustered(10, 2), np.array([0, 1] * 5, dtype=np.int32), 1)


def test_a_snapshot_with_cells_is_served_by_probing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cells, "MIN_ROWS", 4)
    make_snapshot(tmp_path / "s", SAMPLE_DOCS, source="handbook")
    snapshot = open_snapshot(tmp_path / "s")
    rows = snapshot.manifest.chunks
    assert snapshot.manifest.cells == cells.cell_count(rows) > 1
    stored = snapshot.chunks_arrow(["cell"])["cell"].to_numpy()
    assert len(stored) == rows and stored.max() < snapshot.manifest.cells
    index = SourceIndex(snapshot)
    assert index.dense_index.cells == snapshot.manifest.cells
    query = index.dense_index.matrix[0]
    every = index.dense(query, rows, None)
    assert sorted(c.row for c in every) == list(range(rows))  # each row once, none lost


def test_full_text_candidates_skipped_by_probing_get_their_cosine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thoth.serve.search.engine import _completed
    from thoth.serve.search.source_index import Candidate

    monkeypatch.setattr(cells, "MIN_ROWS", 4)
    make_snapshot(tmp_path / "s", SAMPLE_DOCS, source="handbook")
    index = SourceIndex(open_snapshot(tmp_path / "s"))
    query = index.dense_index.matrix[0]
    exact_rows, exact_scores = index.dense_index.search(query, len(index), exact=True)
    cosine = dict(zip(exact_rows.tolist(), exact_scores.tolist(), strict=True))
    dense = [Candidate("handbook", r, cosine[r]) for r in exact_rows[:2].tolist()]
    skipped = exact_rows[2:4].tolist()  # as if probing had not reached them
    fulltext = [Candidate("handbook", r, 9.0) for r in [*skipped, exact_rows[0]]]
    completed = _completed([index], query, dense, fulltext, depth=3)
    assert [c.row for c in completed] == exact_rows[:3].tolist()
    assert [c.score for c in completed] == pytest.approx([cosine[r] for r in exact_rows[:3]])
    monkeypatch.setattr(index.dense_index, "_order", None)  # no cells: nothing to complete
    assert _completed([index], query, dense, fulltext, depth=3) == dense


def test_a_large_probe_is_split_over_threads_with_the_same_result(
    probed: tuple[np.ndarray, DenseIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    from thoth.serve.search import dense

    matrix, index = probed
    query = matrix[3]
    alone = index.search(query, 40)
    monkeypatch.setattr(dense, "SPLIT_ROWS", 64)  # a probe of ~1,000 rows: parts of 32+
    monkeypatch.setattr(dense, "usable", lambda: 3)
    monkeypatch.setattr(dense, "_POOL", None)  # made anew, with that many threads
    split = index.search(query, 40)
    assert np.array_equal(alone[0], split[0])
    np.testing.assert_allclose(alone[1], split[1], rtol=1e-6)


def test_dense_mode_scans_every_vector_even_with_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.snapshots import HashingEncoder
    from thoth.serve.search import SearchEngine

    rng = np.random.default_rng(3)
    words = ["vacation", "deploy", "laptop", "expense", "travel", "oncall", "salary", "badge"]
    docs = {
        f"team{i % 7}/page-{i}.md": f"# Page {i}\n\n"
        + "\n\n".join(" ".join(rng.choice(words, 6)) for _ in range(2))
        for i in range(150)
    }
    monkeypatch.setattr(cells, "MIN_ROWS", 4)
    monkeypatch.setattr(cells, "MIN_PROBE", 1)
    monkeypatch.setattr(cells, "PROBE_SHARE", 0.3)  # ~90 of 300 rows: enough for depth 50
    make_snapshot(tmp_path / "s", docs, source="handbook")
    index = SourceIndex(open_snapshot(tmp_path / "s"))
    engine = SearchEngine({"handbook": index}, HashingEncoder())
    query = "vacation travel expense"
    vector = HashingEncoder().encode_query(query)
    exact_rows, _ = index.dense_index.search(vector, 50, exact=True)
    probed_rows, _ = index.dense_index.search(vector, 50)
    assert set(probed_rows.tolist()) != set(exact_rows.tolist())  # probing does miss here
    found = engine.search(query, mode="dense", num_results=25)
    assert [r.chunk_id for r in found] == [index.chunk_ids[r] for r in exact_rows[:25].tolist()]


def test_probing_every_cell_returns_every_row_once(
    probed: tuple[np.ndarray, DenseIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix, index = probed
    monkeypatch.setattr(index, "_probe", index.cells)
    rows, scores = index._probed(matrix[0], 0, len(matrix))
    assert sorted(rows.tolist()) == list(range(len(matrix)))
    np.testing.assert_allclose(scores, matrix[rows] @ matrix[0], atol=1e-5)


def test_an_empty_cell_is_never_probed_first(monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = clustered(400, 4)
    monkeypatch.setattr(cells, "MIN_PROBE", 1)
    monkeypatch.setattr(cells, "PROBE_SHARE", 0.01)
    index = DenseIndex.of(matrix, cells.partition(matrix, 4), 9)  # cells 4-8 stay empty
    query = cells.normalised(-matrix.sum(0, keepdims=True))[0]  # every centroid scores < 0
    rows, _ = index._probed(query, 0, len(matrix))
    assert len(rows) > 0


def test_a_narrow_range_is_scored_exactly_however_little_is_probed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unordered = clustered(4_000, 40)
    assigned = cells.partition(unordered, 64)
    matrix = unordered[np.argsort(assigned, kind="stable")]  # the range below is a few cells
    monkeypatch.setattr(cells, "PROBE_SHARE", 0.2)  # ranges of up to 800 rows are gathered
    from thoth.serve.search import dense

    monkeypatch.setattr(dense, "GATHER_ROWS", 0)  # the probed share alone decides
    index = DenseIndex.of(matrix, np.sort(assigned), 64)
    gathered = index._gathered
    calls: list[tuple[int, int]] = []

    def spy(query: np.ndarray, depth: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        calls.append((lo, hi))
        return gathered(query, depth, lo, hi)

    monkeypatch.setattr(index, "_gathered", spy)
    query = cells.normalised(-matrix[500:1_000].sum(0, keepdims=True))[0]
    rows, scores = index.search(query, 30, 500, 1_000)  # 500 rows: gathered
    assert calls == [(500, 1_000)]
    index.search(query, 30, 0, 3_000)  # three quarters of the rows: probed
    assert calls == [(500, 1_000)]
    assert rows.tolist() == [500 + r for r in exact(matrix[500:1_000], query, 30)]
    np.testing.assert_allclose(scores, matrix[rows] @ query, atol=1e-5)


def _rewrite_cells(directory: Path, change: object) -> None:
    from thoth.bucket.lance import lancedb
    from thoth.bucket.snapshot import CHUNKS_TABLE, LANCEDB_DIR

    db = lancedb.connect(str(directory / LANCEDB_DIR))
    table = db.open_table(CHUNKS_TABLE).to_arrow()
    db.create_table(CHUNKS_TABLE, data=change(table), mode="overwrite")  # type: ignore[operator]


def _with_cells(table: pa.Table, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index("cell"), "cell", values)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.drop_columns(["cell"]),
        lambda t: _with_cells(t, pa.array([str(c) for c in t["cell"].to_pylist()])),
        lambda t: _with_cells(t, pa.array([None, *t["cell"].to_pylist()[1:]], pa.int32())),
        lambda t: _with_cells(t, pa.array([c + 1_000 for c in t["cell"].to_pylist()], pa.int32())),
    ],
    ids=["missing", "strings", "nulls", "out-of-range"],
)
def test_a_cell_column_that_does_not_fit_is_a_snapshot_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: object
) -> None:
    from thoth.bucket.snapshot import SnapshotError

    monkeypatch.setattr(cells, "MIN_ROWS", 4)
    make_snapshot(tmp_path / "s", SAMPLE_DOCS, source="handbook")
    _rewrite_cells(tmp_path / "s", change)
    with pytest.raises(SnapshotError, match="handbook v0001"):
        SourceIndex(open_snapshot(tmp_path / "s"))


def test_an_unsorted_table_with_cells_keeps_vectors_with_their_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cells, "MIN_ROWS", 4)
    make_snapshot(tmp_path / "s", SAMPLE_DOCS, source="handbook")
    ordered = open_snapshot(tmp_path / "s").chunks_arrow(["chunk_id", "vector"])
    vectors = dict(zip(ordered["chunk_id"].to_pylist(), ordered["vector"].to_pylist(), strict=True))
    _rewrite_cells(tmp_path / "s", lambda t: t.take(pa.array(np.arange(t.num_rows)[::-1].copy())))
    index = SourceIndex(open_snapshot(tmp_path / "s"))
    assert index.paths == sorted(index.paths)
    for row in range(len(index)):
        expected = np.asarray(vectors[index.chunk_ids[row]], dtype=np.float32)
        got = index.dense_index.score_rows(np.array([row]), expected)[0]
        assert got == pytest.approx(float(expected @ expected), abs=1e-5)


def test_hybrid_search_completes_the_dense_candidates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.snapshots import HashingEncoder
    from thoth.serve.search import SearchEngine, engine

    calls: list[int] = []
    completed = engine._completed

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return completed(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_completed", spy)
    make_snapshot(tmp_path / "s", SAMPLE_DOCS, source="handbook")
    search = SearchEngine(
        {"handbook": SourceIndex(open_snapshot(tmp_path / "s"))}, HashingEncoder()
    )
    search.search("vacation days", mode="dense")
    search.search("vacation days", mode="fulltext")
    assert not calls
    search.search("vacation days")
    assert calls == [1]
