"""Dense scores split over threads equal the one matrix-vector product they replace."""

from __future__ import annotations

import numpy as np
import pytest

from thoth.serve.search import dense


@pytest.mark.parametrize("rows", [1, 7, 1000, 4099])
def test_split_scores_equal_one_product(monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    monkeypatch.setattr(dense, "SPLIT_ROWS", 512)
    monkeypatch.setattr(dense, "usable", lambda: 4)
    monkeypatch.setattr(dense, "_POOL", None)  # made anew, with that many threads
    rng = np.random.default_rng(rows)
    matrix = rng.standard_normal((rows, 16), dtype=np.float32)
    query = rng.standard_normal(16).astype(np.float32)
    scores = dense._scores(matrix, query)
    assert scores.dtype == np.float32
    assert scores.shape == (rows,)
    np.testing.assert_allclose(scores, matrix @ query, rtol=1e-5, atol=1e-5)


def test_a_slice_of_rows_is_scored_in_place_of_the_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dense, "SPLIT_ROWS", 100)
    monkeypatch.setattr(dense, "usable", lambda: 2)
    monkeypatch.setattr(dense, "_POOL", None)  # made anew, with that many threads
    matrix = np.arange(3000 * 4, dtype=np.float32).reshape(3000, 4) / 1000
    query = np.array([1.0, 0.0, -1.0, 0.5], dtype=np.float32)
    part = matrix[500:2900]
    np.testing.assert_allclose(dense._scores(part, query), part @ query, rtol=1e-6)


def test_blocks_on_pool_threads_count_in_the_dense_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CPU of the blocks scored on the pool's threads lands in the request's `dense`
    stage, not in what bench/query.py attributes to LanceDB's native threads."""
    from thoth.serve.search.stages import collecting

    monkeypatch.setattr(dense, "SPLIT_ROWS", 1000)
    monkeypatch.setattr(dense, "usable", lambda: 2)
    monkeypatch.setattr(dense, "_POOL", None)  # made anew, with that many threads
    matrix = np.ones((400_000, 64), dtype=np.float32)
    query = np.ones(64, dtype=np.float32)
    with collecting() as stages:
        dense._scores(matrix, query)
    assert stages.get("dense", 0.0) > 0.0
    with collecting() as alone:
        dense._scores(matrix[:10], query)  # one block, in the caller: no stage of its own
    assert "dense" not in alone
