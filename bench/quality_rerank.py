"""The cross-encoder reranker's cut and weight, chosen on the dev split.

    PYTHONPATH=src .venv/bin/python bench/quality_rerank.py [--split dev|test] [--outside DIR]

The engine's hybrid ranking (SourceIndex.dense and .fulltext fused 0.5 / 0.5 min-max, as
SearchEngine.search fuses them) has its first CUT candidates re-read by the cross-encoder
(thoth.embedding.reranker) and reordered by thoth.serve.search.rerank.reranked: WEIGHT x
min-max cross-encoder score + (1 - WEIGHT) x fused place. Each candidate is scored once per
question and every (cut, weight) is computed from those scores. `--split test` and
`--outside DIR` (bench/outside.py's questions) report only the engine and the choice made on
dev (thoth.serve.search.rerank.CANDIDATES and CROSS_WEIGHT).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from passages import shown_text
from quality_experiment import experiment
from quality_metric import Ranks
from quality_thoth import retrieve, top_ranks
from quality_variants import minmax

from thoth.embedding.reranker import CrossEncoder, bundled_reranker_dir
from thoth.serve.search.rerank import CANDIDATES, CROSS_WEIGHT, reranked

ENGINE = "engine (no rerank)"
CUTS = (10, 20, 30)
WEIGHTS = (1.0, 0.5, 0.7)


def name_of(cut: int, weight: float) -> str:
    return f"top {cut}, cross-encoder x {weight:g}"


CHOSEN = name_of(CANDIDATES, CROSS_WEIGHT)


class Memo:
    """The cross-encoder's scores for one question's candidates, computed once."""

    def __init__(self, model: CrossEncoder, texts: dict[int, str]) -> None:
        self.model, self.texts = model, texts
        self.seconds = 0.0

    def scores_for(self, query: str, rows: list[int]) -> dict[int, float]:
        started = time.perf_counter()
        values = self.model.scores(query, [self.texts[r] for r in rows])
        self.seconds += time.perf_counter() - started
        return dict(zip(rows, values.tolist(), strict=True))


class Known:
    """A Reranker answering from scores already computed (by Memo) for these rows."""

    def __init__(self, by_text: dict[str, float]) -> None:
        self.by_text = by_text

    def scores(self, query: str, passages: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.asarray([self.by_text[p] for p in passages], dtype=np.float32)


def main() -> int:
    exp = experiment(__doc__.split("\n\n")[0], "rerank", with_chosen=False)
    grid = {name_of(c, w): (c, w) for c in CUTS for w in WEIGHTS}
    methods = exp.settings(list(grid), CHOSEN)
    deepest = max(grid[name][0] for name in methods)
    model = CrossEncoder(bundled_reranker_dir())
    by_method: dict[str, list[Ranks]] = {name: [] for name in [ENGINE, *methods]}
    seconds, pairs = 0.0, 0
    for built, asked in exp.indexes():
        index = built.index
        texts = {
            r: shown_text(index.titles[r], index.headings[r], index.texts[r])
            for r in range(len(index.texts))
        }
        for q in asked:
            got = retrieve(built, q.question)
            fused = minmax(got.dense, got.fulltext, alpha=0.5, depth=50)
            by_method[ENGINE].append(top_ranks(built, q, fused))
            memo = Memo(model, texts)
            top = fused[:deepest]
            known = Known({texts[r]: s for r, s in memo.scores_for(q.question, top).items()})
            seconds, pairs = seconds + memo.seconds, pairs + len(top)
            for method in methods:
                cut, weight = grid[method]
                pairs_scored = [(r, 0.0) for r in fused]
                out = reranked(q.question, pairs_scored, cut, texts.__getitem__, known, weight)
                by_method[method].append(top_ranks(built, q, [r for r, _ in out]))
    title = "The cross-encoder's cut and weight (`bench/quality_rerank.py`)"
    per_pair = f"{1000 * seconds / max(pairs, 1):.0f} ms a pair on this machine ({pairs} pairs)"
    exp.report(title, by_method, CHOSEN, f"; cross-encoder {model.name}: {per_pair}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
