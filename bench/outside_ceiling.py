"""Where the outside benchmark's gold passages and files sit in Thoth's hybrid ranking, and
what the best reordering of its candidates could reach.

    PYTHONPATH=src .venv/bin/python bench/outside_ceiling.py DATASETS_DIR

The engine fuses the dense and BM25 top 50 (SourceIndex.dense and .fulltext, 0.5 / 0.5
min-max). For each gold passage (and gold file) this finds its best rank in that fused list,
or that no candidate holds it. "Reorder ceiling" is the share R@5 a perfect reordering of the
same candidates would reach: every gold unit that some candidate holds placed in the top 5
(no question has more than five). It bounds what any reranker or fusion of these two rankers
can do; a gold unit outside the candidates needs another way to find it (a second search).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from outside import load_outside
from passages import contains
from quality_labels import Question
from quality_thoth import MAX_TOKENS, MODEL, BuiltIndex, build_index, load_corpus, retrieve
from quality_variants import minmax

from thoth.embedding import load_embedder

DEEP = 50
BUCKETS = ("1-5", "6-10", "11-20", "21+", "not a candidate")


def bucket(rank: int | None) -> str:
    if rank is None:
        return BUCKETS[-1]
    return "1-5" if rank <= 5 else "6-10" if rank <= 10 else "11-20" if rank <= 20 else "21+"


def gold_ranks(built: BuiltIndex, q: Question) -> tuple[list[int | None], list[int | None]]:
    """Best fused rank of each gold passage and of each gold file, None when no candidate."""
    got = retrieve(built, q.question)
    fused = minmax(got.dense, got.fulltext, alpha=0.5, depth=DEEP)
    paths = [built.index.paths[r] for r in fused]
    grams = [built.trigrams[r] for r in fused]

    def first(hits: Sequence[bool]) -> int | None:
        return next((i for i, hit in enumerate(hits, start=1) if hit), None)

    passages = [
        first([p == g.file and contains(g.words, t) for p, t in zip(paths, grams, strict=True)])
        for g in q.gold
    ]
    files = [first([p == f for p in paths]) for f in q.files]
    return passages, files


def share(ranks: Sequence[int | None], within: int | None) -> float:
    """Share of the units found in the top 5 (within=5), or held by any candidate (None)."""
    hit = [r is not None and (within is None or r <= within) for r in ranks]
    return sum(hit) / len(hit) if hit else 0.0


def report(rows: list[tuple[Question, list[int | None], list[int | None]]]) -> list[str]:
    groups: dict[str, list[int]] = {"all": list(range(len(rows)))}
    for i, (q, _, _) in enumerate(rows):
        groups.setdefault(q.style, []).append(i)
    head = (
        "| group (questions) | unit | " + " | ".join(BUCKETS) + " | share R@5 | reorder ceiling |"
    )
    lines = [head, "|---|---|" + "---:|" * (len(BUCKETS) + 2)]
    for name, members in groups.items():
        by_unit = {"passage": [rows[i][1] for i in members], "file": [rows[i][2] for i in members]}
        for unit, per_q in by_unit.items():
            counts = Counter(bucket(r) for ranks in per_q for r in ranks)
            now = sum(share(r, 5) for r in per_q) / len(per_q)
            ceiling = sum(share(r, None) for r in per_q) / len(per_q)
            cells = " | ".join(str(counts[b]) for b in BUCKETS)
            lines.append(
                f"| {name} ({len(members)}) | {unit} | {cells} | {now:.3f} | {ceiling:.3f} |"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", type=Path, help="folder with the benchmark's *.jsonl")
    parser.add_argument("--out", type=Path, default=Path("bench/results/outside-ceiling.md"))
    args = parser.parse_args()
    questions = [q for q in load_outside(args.datasets) if q.gold]
    embedder = load_embedder(MODEL)
    built = build_index(load_corpus("gitlab"), embedder, MAX_TOKENS or embedder.max_tokens)
    rows = [(q, *gold_ranks(built, q)) for q in questions]
    lines = [
        "### Outside benchmark: where the gold units sit in the hybrid's candidates "
        "(`bench/outside_ceiling.py`)",
        "",
        f"{len(questions)} questions; counts are gold passages or gold files by their best rank "
        f"in the engine's fused list of the dense and BM25 top {DEEP}.",
        "",
        *report(rows),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
