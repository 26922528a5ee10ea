"""Coverage of the question's words in the top 5, chosen on the dev split.

    PYTHONPATH=src .venv/bin/python bench/quality_coverage.py [--split dev|test] [--outside DIR]

A question that needs two passages often has the chunks of one of them fill the top 5,
because they match more of its words. Instead of spreading the top 5 over files (tried and
rejected on dev, README), each place of the top 5 goes greedily to the candidate among the
fused top POOL with the best fused score (0.5 / 0.5 min-max, as the engine) + LAMBDA x the
share of the question's idf that it covers and the places above it do not yet cover. A chunk
that repeats the words already covered gets no bonus and no penalty. Places after the 5th
keep the fused order. `--split test` and `--outside DIR` report only the engine and --chosen.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quality_labels import load_questions
from quality_metric import Ranks, paired_table
from quality_prf import _STOP, _WORD, Words
from quality_split import load_split, split_of
from quality_thoth import (
    CORPORA,
    MAX_TOKENS,
    MODEL,
    Ranking,
    build_index,
    load_corpus,
    retrieve,
    top_ranks,
)

from thoth.embedding import load_embedder
from thoth.serve.search.fusion import weighted_minmax_fusion

ENGINE = "engine"
DEEP = 50
TOP = 5
POOLS = (10, 20)
LAMBDAS = (0.1, 0.2, 0.4)


def name_of(pool: int, lam: float) -> str:
    return f"coverage pool={pool} lambda={lam:g}"


def covered(
    question: str, fused: list[tuple[int, float]], words: Words, pool: int, lam: float
) -> Ranking:
    asked = {w for w in _WORD.findall(question.lower()) if w not in _STOP and w in words.idf}
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--outside", type=Path, help="bench/outside.py's questions instead")
    parser.add_argument("--questions", type=Path, default=Path("bench/quality_questions.yaml"))
    parser.add_argument("--chosen", default="", help="the dev choice, for --split test/--outside")
    parser.add_argument("--out", type=Path, help="default: bench/results/quality-coverage-SPLIT.md")
    args = parser.parse_args()
    if args.outside:
        from outside import load_outside

        chosen = [q for q in load_outside(args.outside) if q.gold]
    else:
        questions = load_questions(args.questions)
        split = split_of(questions, load_split())
        chosen = [q for q in questions if split[q.id] == args.split]
    grid = [(p, lam) for p in POOLS for lam in LAMBDAS]
    if args.outside or args.split == "test":  # report the choice made on dev, nothing else
        if not args.chosen:
            sys.exit("quality_coverage: --split test and --outside need --chosen (made on dev)")
        grid = [g for g in grid if name_of(*g) == args.chosen]
    embedder = load_embedder(MODEL)
    by_method: dict[str, list[Ranks]] = {ENGINE: [], **{name_of(*g): [] for g in grid}}
    for corpus in CORPORA:
        asked = [q for q in chosen if q.corpus == corpus]
        if not asked:
            continue
        built = build_index(load_corpus(corpus), embedder, MAX_TOKENS or embedder.max_tokens)
        words = Words(built)
        for q in asked:
            got = retrieve(built, q.question)
            fused = weighted_minmax_fusion([got.dense[:DEEP], got.fulltext[:DEEP]], (0.5, 0.5))
            by_method[ENGINE].append(top_ranks(built, q, [r for r, _ in fused]))
            for pool, lam in grid:
                ranking = covered(q.question, fused, words, pool, lam)
                by_method[name_of(pool, lam)].append(top_ranks(built, q, ranking))
    where = "outside" if args.outside else f"{args.split} split of {args.questions}"
    lines = [
        f"### Coverage of the question's words in the top 5 (`bench/quality_coverage.py`), {where}",
        "",
        f"{len(chosen)} questions.",
        "",
        *paired_table(by_method, ENGINE, "method", args.chosen),
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    name = "outside" if args.outside else args.split
    (args.out or Path(f"bench/results/quality-coverage-{name}.md")).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
