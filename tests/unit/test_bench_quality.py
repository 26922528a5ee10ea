"""The metric and hit-rule functions of bench/quality.py, on hand-made rankings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "quality.py"
    spec = importlib.util.spec_from_file_location("bench_quality", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


q = _load()


def test_first_hit_is_one_based_and_limited() -> None:
    ranking = [7, 3, 9, 4]
    assert q.first_hit(ranking, lambda row: row == 7, 10) == 1
    assert q.first_hit(ranking, lambda row: row in {9, 4}, 10) == 3
    assert q.first_hit(ranking, lambda row: row == 4, 3) is None
    assert q.first_hit([], lambda row: True, 10) is None


def test_recall_and_mrr() -> None:
    ranks = [1, 3, 6, None]  # four questions
    assert q.recall_at(ranks, 5) == pytest.approx(2 / 4)
    assert q.recall_at(ranks, 10) == pytest.approx(3 / 4)
    assert q.mrr_at(ranks, 10) == pytest.approx((1 + 1 / 3 + 1 / 6) / 4)
    assert q.mrr_at([11], 10) == 0.0
    assert q.metrics([1, None]) == {"recall@5": 0.5, "recall@10": 0.5, "mrr@10": 0.5}


def test_normalise_drops_markdown_and_punctuation() -> None:
    assert q.normalise("**Claim** it in [Quill](https://q.example/x), ok?") == [
        "claim",
        "it",
        "in",
        "quill",
        "ok",
    ]
    assert q.normalise("| Tier | 99.9% |") == ["tier", "99", "9"]


def test_passage_coverage_rule() -> None:
    passage = q.normalise("Claim every expense in Quill within 60 days of the purchase")
    whole = q._trigrams(
        q.normalise("Summary. Claim every expense in Quill within 60 days of the purchase.")
    )
    assert q.coverage(passage, whole) == 1.0
    # A chunk boundary cut the passage: the chunk with 8 of its 11 words is a hit, the one
    # with 6 of them is not.
    head = q._trigrams(q.normalise("Claim every expense in Quill within 60 days"))
    assert q.coverage(passage, head) == pytest.approx(8 / 11)
    assert q.coverage(passage, head) >= q.PASSAGE_COVERAGE
    cut = q._trigrams(q.normalise("Claim every expense in Quill within"))
    assert q.coverage(passage, cut) == pytest.approx(6 / 11)
    assert q.coverage(passage, cut) < q.PASSAGE_COVERAGE
    # Sharing many single words but no word order is not a hit.
    bag = q._trigrams(q.normalise("the purchase of days: every claim within Quill, in expense 60"))
    assert q.coverage(passage, bag) < q.PASSAGE_COVERAGE


def test_contains_run_matches_whole_words_only() -> None:
    text = q.normalise("Payment is due within 100 days at the latest")
    assert q.contains_run(text, q.normalise("due within 100 days"))
    assert not q.contains_run(text, q.normalise("due within 10"))
    assert not q.contains_run(text, [])


def test_rrf_variants() -> None:
    dense, fulltext = [1, 2, 3], [3, 4, 1]
    # Equal weights: 1 and 3 are in both lists and beat 2 and 4.
    assert q.rrf(dense, fulltext, k=60, depth=3, weights=(1.0, 1.0))[:2] == [1, 3]
    # Depth cuts each list before fusing.
    assert q.rrf(dense, fulltext, k=60, depth=1, weights=(1.0, 1.0)) == [1, 3]
    # Weighting dense twice puts its second item above fulltext's first-only item.
    weighted = q.rrf(dense, fulltext, k=10, depth=3, weights=(2.0, 1.0))
    assert weighted.index(2) < weighted.index(4)


def test_minmax_fusion() -> None:
    dense = [(1, 0.9), (2, 0.5), (3, 0.1)]
    fulltext = [(3, 12.0), (4, 2.0)]
    assert q.minmax(dense, fulltext, alpha=1.0)[0] == 1
    assert q.minmax(dense, fulltext, alpha=0.0)[0] == 3
    assert set(q.minmax(dense, fulltext, alpha=0.5)) == {1, 2, 3, 4}
