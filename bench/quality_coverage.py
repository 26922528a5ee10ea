"""Coverage of the question's words in the top 5, chosen on the dev split.

    PYTHONPATH=src .venv/bin/python bench/quality_coverage.py [--split dev|test] [--outside DIR]

A question that needs two passages often has the chunks of one of them fill the top 5,
because they match more of its words. Instead of spreading the top 5 over files (tried and
rejected on dev, docs/quality.md), each place of the top 5 goes greedily to the candidate among the
fused top POOL with the best fused score (0.5 / 0.5 min-max, as the engine) + LAMBDA x the
share of the question's idf that it covers and the places above it do not yet cover. A chunk
that repeats the words already covered gets no bonus and no penalty. Places after the 5th
keep the fused order. `--split test` and `--outside DIR` report only the engine and --chosen.
"""

from __future__ import annotations

import itertools
import sys

from quality_experiment import Reorder, experiment
from quality_prf import STOP, WORD, Words
from quality_thoth import BuiltIndex, Ranking

TOP = 5
POOLS = (10, 20)
LAMBDAS = (0.1, 0.2, 0.4)


def name_of(pool: int, lam: float) -> str:
    return f"coverage pool={pool} lambda={lam:g}"


def covered(
    question: str, fused: list[tuple[int, float]], words: Words, pool: int, lam: float
) -> Ranking:
    asked = {w for w in WORD.findall(question.lower()) if w not in STOP and w in words.idf}
    total = sum(words.idf[w] for w in asked)
    if not asked or total <= 0:
        return [r for r, _ in fused]
    left = dict(fused[:pool])
    seen: set[str] = set()
    picked: Ranking = []
    while left and len(picked) < TOP:
        gains = {
            row: score
            + lam * sum(words.idf[w] for w in (asked & words.bags[row].keys()) - seen) / total
            for row, score in left.items()
        }
        best = max(gains, key=gains.__getitem__)
        picked.append(best)
        seen |= asked & words.bags[best].keys()
        del left[best]
    return picked + [r for r, _ in fused if r not in picked]


def main() -> int:
    exp = experiment(__doc__.split("\n\n")[0], "coverage")
    grid = {name_of(*g): g for g in itertools.product(POOLS, LAMBDAS)}

    def reorder_for(built: BuiltIndex) -> Reorder:
        words = Words(built)
        return lambda name, q, fused: covered(q.question, fused, words, *grid[name])

    title = "Coverage of the question's words in the top 5 (`bench/quality_coverage.py`)"
    exp.run_reorders(title, list(grid), reorder_for)
    return 0


if __name__ == "__main__":
    sys.exit(main())
