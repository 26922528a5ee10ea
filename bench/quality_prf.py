"""Pseudo-relevance feedback for the full-text side, chosen on the dev split.

    PYTHONPATH=src .venv/bin/python bench/quality_prf.py [--split dev|test] [--outside DIR]

A question's words often miss the words its answer is written in. Feedback in the manner of
RM3: the engine's BM25 (SourceIndex.fulltext) ranks the question; the FB best chunks lend
their TERMS most telling words (weight: sum over those chunks of the word's share of the
chunk times its idf over the corpus' chunks, stop words and question words dropped); BM25
ranks the question with those words appended; the two BM25 rankings are fused as
(1 - BETA) x min-max first + BETA x min-max second, and that takes the full-text side's
place in the engine's 0.5 / 0.5 min-max fusion with the dense ranking. `--split test` and
`--outside DIR` (bench/outside.py's questions) report only the engine and the variant named
by --chosen, which is picked on dev.
"""

from __future__ import annotations

import itertools
import math
import re
import sys
from collections import Counter
from collections.abc import Sequence

from bm25s.stopwords import STOPWORDS_EN_PLUS
from passages import shown_text
from quality_experiment import experiment
from quality_metric import Ranks
from quality_thoth import BuiltIndex, Scored, retrieve, top_ranks
from quality_variants import minmax

from thoth.serve.search.fusion import weighted_minmax_fusion

ENGINE = "engine"
DEEP = 50
FEEDBACK = (3, 5)  # chunks lending words
TERMS = (5, 10)  # words lent
BETAS = (0.3, 0.5)  # the second ranking's share of the full-text side
WORD = re.compile(r"[a-z][a-z0-9]{2,}")
STOP = frozenset(STOPWORDS_EN_PLUS) | {"gitlab", "sourcegraph", "team", "handbook"}


def name_of(fb: int, terms: int, beta: float) -> str:
    return f"prf fb={fb} terms={terms} beta={beta:g}"


class Words:
    """Each chunk's words (as a result shows it) and every word's idf over the chunks."""

    def __init__(self, built: BuiltIndex) -> None:
        index = built.index
        self.bags = [
            Counter(
                WORD.findall(shown_text(index.titles[r], index.headings[r], index.texts[r]).lower())
            )
            for r in range(len(index.texts))
        ]
        df = Counter(w for bag in self.bags for w in bag)
        n = len(self.bags)
        self.idf = {w: math.log((n - d + 0.5) / (d + 0.5) + 1.0) for w, d in df.items()}

    def lent(self, question: str, rows: Sequence[int], terms: int) -> list[str]:
        asked = set(WORD.findall(question.lower()))
        weight: dict[str, float] = {}
        for row in rows:
            bag = self.bags[row]
            size = sum(bag.values()) or 1
            for word, count in bag.items():
                if word not in STOP and word not in asked:
                    weight[word] = weight.get(word, 0.0) + count / size * self.idf[word]
        return sorted(weight, key=lambda w: -weight[w])[:terms]


def fulltext(built: BuiltIndex, query: str) -> Scored:
    return [(c.row, c.score) for c in built.index.fulltext(query.strip(), DEEP, None)]


def with_feedback(first: Scored, second: Scored, beta: float) -> Scored:
    return weighted_minmax_fusion([first, second], (1.0 - beta, beta))[:DEEP]


def main() -> int:
    exp = experiment(__doc__.split("\n\n")[0], "prf")
    grid = {name_of(*g): g for g in itertools.product(FEEDBACK, TERMS, BETAS)}
    names = exp.settings(list(grid), exp.args.chosen)
    by_method: dict[str, list[Ranks]] = {ENGINE: [], **{name: [] for name in names}}
    for built, asked in exp.indexes():
        words = Words(built)
        for q in asked:
            got = retrieve(built, q.question)
            engine = minmax(got.dense, got.fulltext, alpha=0.5, depth=DEEP)
            by_method[ENGINE].append(top_ranks(built, q, engine))
            second: dict[tuple[int, int], Scored] = {}
            for name in names:
                fb, terms, beta = grid[name]
                if (fb, terms) not in second:
                    top = [r for r, _ in got.fulltext[:fb]]
                    lent = words.lent(q.question, top, terms)
                    second[fb, terms] = fulltext(built, f"{q.question} {' '.join(lent)}")
                side = with_feedback(got.fulltext, second[fb, terms], beta)
                fused = minmax(got.dense, side, alpha=0.5, depth=DEEP)
                by_method[name].append(top_ranks(built, q, fused))
    title = "Pseudo-relevance feedback on the full-text side (`bench/quality_prf.py`)"
    exp.report(title, by_method, exp.args.chosen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
