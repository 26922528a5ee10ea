"""Sentence windows as a third ranker, tried on the dev split.

    PYTHONPATH=src .venv/bin/python bench/quality_windows.py [--split dev|test] [--outside DIR]
        [--questions FILE]

A chunk's vector stands for up to 256 word pieces, while a labelled answer is 10-40 words.
Here each chunk's text is also cut into windows of whole sentences (about WINDOW_WORDS words),
each window embedded by the same model; a chunk's window score is its best window's cosine.
That ranking is fused with the engine's two (min-max, several weights) and compared with the
engine's fusion on the same dev questions. The weights are chosen on dev; `--split test` and
`--outside DIR` (bench/outside.py's questions) report only the chosen ones beside the engine.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
from quality_labels import load_questions
from quality_metric import Ranks, paired_table
from quality_split import load_split, split_of
from quality_thoth import (
    CORPORA,
    MAX_TOKENS,
    MODEL,
    BuiltIndex,
    build_index,
    cached_vectors,
    load_corpus,
    retrieve,
    top_ranks,
)

from thoth.embedding import Embedder, load_embedder
from thoth.serve.search.fusion import weighted_minmax_fusion

DEPTH = 50
WINDOW_WORDS = 40
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
WEIGHTS = {  # (dense, bm25, windows)
    "engine 0.5/0.5": (0.5, 0.5, 0.0),
    "windows alone": (0.0, 0.0, 1.0),
    "0.25 / 0.5 / 0.25": (0.25, 0.5, 0.25),
    "0.33 / 0.33 / 0.33": (1 / 3, 1 / 3, 1 / 3),
    "0.4 / 0.4 / 0.2": (0.4, 0.4, 0.2),
    "0 / 0.5 / 0.5": (0.0, 0.5, 0.5),
    "0.3 / 0.5 / 0.2": (0.3, 0.5, 0.2),
}
# The best R@5 and MRR@10 on dev (README; docs/quality.md, "Sentence windows").
CHOSEN = "0.4 / 0.4 / 0.2"


def windows(text: str) -> list[str]:
    """Consecutive sentences (or lines) joined until about WINDOW_WORDS words."""
    out: list[str] = []
    current: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        if not sentence:
            continue
        if current and len(" ".join([*current, sentence]).split()) > WINDOW_WORDS:
            out.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        out.append(" ".join(current))
    return out or [text]


def window_matrix(built: BuiltIndex, embedder: Embedder) -> tuple[np.ndarray, np.ndarray]:
    index = built.index
    texts: list[str] = []
    rows: list[int] = []
    for row, text in enumerate(index.texts):
        for window in windows(text):
            texts.append(f"{index.headings[row]}: {window}")
            rows.append(row)
    vectors, _, _, _ = cached_vectors(embedder, f"{built.corpus}-windows", texts)
    print(f"  {built.corpus}: {len(texts)} windows over {len(index.texts)} chunks", flush=True)
    return vectors, np.asarray(rows)


def window_ranking(
    matrix: np.ndarray, rows: np.ndarray, query: np.ndarray, n_rows: int
) -> list[tuple[int, float]]:
    best = np.full(n_rows, -np.inf, dtype=np.float32)
    np.maximum.at(best, rows, matrix @ query)
    top = np.argsort(-best, kind="stable")[:DEPTH]
    return [(int(r), float(best[r])) for r in top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--outside", type=Path, help="bench/outside.py's questions instead")
    parser.add_argument("--questions", type=Path, default=Path("bench/quality_questions.yaml"))
    parser.add_argument("--out", type=Path, help="default: bench/results/quality-windows-SPLIT.md")
    args = parser.parse_args()
    if args.outside:
        from outside import load_outside

        chosen = load_outside(args.outside)
    else:
        questions = load_questions(args.questions)
        split = split_of(questions, load_split())
        chosen = [q for q in questions if split[q.id] == args.split]
    weights = WEIGHTS
    if args.outside or args.split == "test":  # report the choice made on dev, nothing else
        weights = {k: v for k, v in WEIGHTS.items() if k in ("engine 0.5/0.5", CHOSEN)}
    embedder = load_embedder(MODEL)
    by_method: dict[str, list[Ranks]] = {name: [] for name in weights}
    for name in CORPORA:
        asked = [q for q in chosen if q.corpus == name]
        if not asked:
            continue
        built = build_index(load_corpus(name), embedder, MAX_TOKENS or embedder.max_tokens)
        matrix, rows = window_matrix(built, embedder)
        for q in asked:
            got = retrieve(built, q.question)
            query = built.encoder.encode_query(q.question)
            sent = window_ranking(matrix, rows, query, len(built.index.texts))
            lists = [got.dense[:DEPTH], got.fulltext[:DEPTH], sent]
            for method, chosen_weights in weights.items():
                used = [(lst, w) for lst, w in zip(lists, chosen_weights, strict=True) if w]
                fused = weighted_minmax_fusion([lst for lst, _ in used], [w for _, w in used])
                by_method[method].append(top_ranks(built, q, [r for r, _ in fused]))
    where = "outside" if args.outside else f"{args.split} split of {args.questions}"
    lines = [
        f"### Sentence windows as a third ranker (`bench/quality_windows.py`), {where}",
        "",
        f"{len(chosen)} questions; windows of about {WINDOW_WORDS} words.",
        "",
        *paired_table(by_method, "engine 0.5/0.5", "dense / bm25 / windows"),
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    name = "outside" if args.outside else args.split
    (args.out or Path(f"bench/results/quality-windows-{name}.md")).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
