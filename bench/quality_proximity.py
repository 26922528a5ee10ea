"""Term proximity on the full-text side (word pairs), chosen on the dev split.

    PYTHONPATH=src .venv/bin/python bench/quality_proximity.py [--split dev|test] [--outside DIR]

BM25 scores each word on its own, so a chunk with "space" in one place and "co-working" in
another ranks beside one that says "co-working space". In the manner of the sequential
dependence model, a second BM25 (bm25s) indexes each chunk, as a result shows it, by its
pairs of content words: adjacent ones ("adjacent") or any two within three places of each
other, unordered ("window3"), stop words dropped first. The question is cut into pairs the
same way; that ranking is fused with the engine's BM25 as (1 - BETA) x min-max BM25 + BETA x
min-max pairs, and the result takes the full-text side's place in the engine's 0.5 / 0.5
min-max fusion with the dense ranking. `--split test` and `--outside DIR` report only the
engine and the setting named by --chosen, which is picked on dev.
"""

from __future__ import annotations

import itertools
import sys

import bm25s
from passages import shown_text
from quality_experiment import experiment
from quality_metric import Ranks
from quality_prf import STOP, WORD
from quality_thoth import BuiltIndex, Scored, retrieve, top_ranks
from quality_variants import minmax

from thoth.serve.search.fusion import weighted_minmax_fusion

ENGINE = "engine"
DEEP = 50
MODES = {"adjacent": 1, "window3": 3}  # the farthest apart two words of a pair may be
BETAS = (0.2, 0.35, 0.5)


def name_of(mode: str, beta: float) -> str:
    return f"pairs {mode} beta={beta:g}"


def pairs(text: str, reach: int) -> list[str]:
    """The text's pairs of content words at most `reach` places apart (1: adjacent, in
    order; more: unordered, as a window of the sequential dependence model)."""
    words = [w for w in WORD.findall(text.lower()) if w not in STOP]
    out = []
    for i, word in enumerate(words):
        for other in words[i + 1 : i + 1 + reach]:
            first, second = (word, other) if reach == 1 else sorted((word, other))
            out.append(f"{first}_{second}")
    return out


class PairIndex:
    """bm25s over each chunk's word pairs."""

    def __init__(self, built: BuiltIndex, reach: int) -> None:
        index = built.index
        self.reach = reach
        docs = [
            pairs(shown_text(index.titles[r], index.headings[r], index.texts[r]), reach) or ["_"]
            for r in range(len(index.texts))
        ]
        self.bm25 = bm25s.BM25()
        texts = [" ".join(doc) for doc in docs]
        self.bm25.index(
            bm25s.tokenize(texts, stopwords=None, show_progress=False), show_progress=False
        )
        self.vocab = {p for doc in docs for p in doc}
        self.size = len(docs)

    def search(self, question: str) -> Scored:
        asked = [p for p in pairs(question, self.reach) if p in self.vocab]
        if not asked:
            return []
        tokens = bm25s.tokenize([" ".join(asked)], stopwords=None, show_progress=False)
        rows, scores = self.bm25.retrieve(tokens, k=min(DEEP, self.size), show_progress=False)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if s > 0]


def fused_side(first: Scored, second: Scored, beta: float) -> Scored:
    return weighted_minmax_fusion([first, second], (1.0 - beta, beta))[:DEEP]


def main() -> int:
    exp = experiment(__doc__.split("\n\n")[0], "proximity")
    grid = {name_of(m, b): (m, b) for m, b in itertools.product(MODES, BETAS)}
    names = exp.settings(list(grid), exp.args.chosen)
    by_method: dict[str, list[Ranks]] = {ENGINE: [], **{name: [] for name in names}}
    for built, asked in exp.indexes():
        indexes = {m: PairIndex(built, MODES[m]) for m in {grid[n][0] for n in names}}
        for q in asked:
            got = retrieve(built, q.question)
            engine = minmax(got.dense, got.fulltext, alpha=0.5, depth=DEEP)
            by_method[ENGINE].append(top_ranks(built, q, engine))
            found = {m: index.search(q.question) for m, index in indexes.items()}
            for name in names:
                mode, beta = grid[name]
                side = fused_side(got.fulltext[:DEEP], found[mode], beta)
                by_method[name].append(
                    top_ranks(built, q, minmax(got.dense, side, alpha=0.5, depth=DEEP))
                )
    title = "Word pairs on the full-text side (`bench/quality_proximity.py`)"
    exp.report(title, by_method, exp.args.chosen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
