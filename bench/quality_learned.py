"""A learned fusion, tried on the dev split: logistic regression over what the engine knows
of each candidate chunk, scored by cross-validation within dev.

    PYTHONPATH=src .venv/bin/python bench/quality_learned.py [--questions FILE]

Candidates are the engine's: the union of its dense and BM25 top 50 for the question. A
candidate is positive when it holds a gold passage as bench/quality.py counts one (a chunk
of the gold file, read as shown, with at least half of the passage's word trigrams). The
model is fitted on some dev questions and ranks the others' candidates, two ways: five folds
by a hash of the question id, and leave one corpus out (fitted on two corpora, ranking the
third: the nearest thing within dev to questions written by someone else). Beside it, the
engine's fusion (min-max 0.5 / 0.5) ranks the same candidates. The test split is not read.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from quality_labels import Question, load_questions
from quality_metric import Ranks, paired_cell, question_ranks, summarise
from quality_split import load_split, split_of
from quality_thoth import (
    CORPORA,
    MAX_TOKENS,
    MODEL,
    BuiltIndex,
    build_index,
    load_corpus,
    retrieve,
)

from thoth.embedding import load_embedder
from thoth.serve.search.fusion import weighted_minmax_fusion

QUESTIONS_FILE = Path("bench/quality_questions.yaml")
RESULTS = Path("bench/results")
# The penalty is summed over ~20,000 candidate rows: these run from barely any to strong.
L2_STRENGTHS = (1.0, 100.0, 1_000.0, 10_000.0)
DEPTH = 50  # thoth.serve.search.engine.MIN_DEPTH
FEATURES = (
    "dense min-max",
    "bm25 min-max",
    "in dense top 50",
    "in bm25 top 50",
    "1 / (dense rank + 5)",
    "1 / (bm25 rank + 5)",
    "cosine",
    "bm25 / top bm25",
    "first chunk of its file",
    "log words",
    "query words in title + heading",
    "file's best fused score",
    "file's candidates / 10",
)
_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = (
    "a an the of to in on for at by with from is are was be do does did i we you it my our "
    "what which who when where why how can should must may this that there their its as "
    "about any me your and or if"
)
_STOP = frozenset(_STOP_WORDS.split())


@dataclass
class Pool:
    """One question's candidates: rows, features, labels, and the engine's fused order."""

    question: Question
    rows: list[int]
    x: np.ndarray
    y: np.ndarray
    fused: list[int]
    built: BuiltIndex


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def pool_of(built: BuiltIndex, q: Question) -> Pool:
    got = retrieve(built, q.question)
    index = built.index
    dense, bm25 = got.dense[:DEPTH], got.fulltext[:DEPTH]
    rows = list(dict.fromkeys([r for r, _ in dense] + [r for r, _ in bm25]))
    d_norm = dict(weighted_minmax_fusion([dense], (1.0,)))
    f_norm = dict(weighted_minmax_fusion([bm25], (1.0,)))
    d_rank = {r: i for i, (r, _) in enumerate(dense)}
    f_rank = {r: i for i, (r, _) in enumerate(bm25)}
    top_bm25 = bm25[0][1] if bm25 else 1.0
    bm25_of = dict(bm25)
    cosine = index.cosine(rows, built.encoder.encode_query(q.question))
    fused = weighted_minmax_fusion([dense, bm25], (0.5, 0.5))
    fused_of = dict(fused)
    query_words = _words(q.question) or {""}
    best_of_file: dict[str, float] = {}
    count_of_file: dict[str, int] = {}
    for r in rows:
        path = index.paths[r]
        best_of_file[path] = max(best_of_file.get(path, 0.0), fused_of.get(r, 0.0))
        count_of_file[path] = count_of_file.get(path, 0) + 1
    x = np.array(
        [
            [
                d_norm.get(r, 0.0),
                f_norm.get(r, 0.0),
                float(r in d_rank),
                float(r in f_rank),
                1.0 / (d_rank[r] + 5) if r in d_rank else 0.0,
                1.0 / (f_rank[r] + 5) if r in f_rank else 0.0,
                cosine[i],
                bm25_of.get(r, 0.0) / top_bm25 if top_bm25 else 0.0,
                float(r == 0 or index.paths[r - 1] != index.paths[r]),
                math.log1p(len(index.texts[r].split())),
                len(query_words & _words(f"{index.titles[r]} {index.headings[r]}"))
                / len(query_words),
                best_of_file[index.paths[r]],
                count_of_file[index.paths[r]] / 10,
            ]
            for i, r in enumerate(rows)
        ],
        dtype=np.float64,
    )
    y = np.array([_holds_gold(built, q, r) for r in rows], dtype=np.float64)
    return Pool(q, rows, x, y, [r for r, _ in fused], built)


def _holds_gold(built: BuiltIndex, q: Question, row: int) -> float:
    ranks = question_ranks(q, [built.index.paths[row]], [built.trigrams[row]])
    return float(ranks.passage_any is not None)


def fit(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """L2-regularised logistic regression by Newton's method on standardised features:
    (weights with the intercept last, feature means, feature scales)."""
    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.eye(z.shape[1]) * l2
    penalty[-1, -1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + penalty @ w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w, mean, scale


def scores(model: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    w, mean, scale = model
    result: np.ndarray = ((x - mean) / scale) @ w[:-1] + w[-1]
    return result


def ranks_of(pool: Pool, ranking: Sequence[int]) -> Ranks:
    index = pool.built.index
    top = list(ranking[:10])
    return question_ranks(
        pool.question, [index.paths[r] for r in top], [pool.built.trigrams[r] for r in top]
    )


def evaluate(pools: list[Pool], folds: dict[str, int], l2: float) -> dict[str, list[Ranks]]:
    learned: list[Ranks] = []
    engine: list[Ranks] = []
    for fold in sorted(set(folds.values())):
        train = [p for p in pools if folds[p.question.id] != fold]
        held = [p for p in pools if folds[p.question.id] == fold]
        model = fit(np.vstack([p.x for p in train]), np.concatenate([p.y for p in train]), l2)
        for p in held:
            order = np.argsort(-scores(model, p.x), kind="stable")
            learned.append(ranks_of(p, [p.rows[i] for i in order]))
            engine.append(ranks_of(p, p.fused))
    return {"learned": learned, "engine 0.5/0.5": engine}


def _hash_fold(qid: str, k: int = 5) -> int:
    return int(hashlib.sha256(qid.encode()).hexdigest(), 16) % k


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS_FILE)
    parser.add_argument("--out", type=Path, default=RESULTS / "quality-learned.md")
    args = parser.parse_args()
    questions = load_questions(args.questions)
    split = split_of(questions, load_split())
    dev = [q for q in questions if split[q.id] == "dev"]
    embedder = load_embedder(MODEL)
    pools: list[Pool] = []
    for name in CORPORA:
        built = build_index(load_corpus(name), embedder, MAX_TOKENS or embedder.max_tokens)
        pools += [pool_of(built, q) for q in dev if q.corpus == name]
        print(f"{name}: {sum(1 for q in dev if q.corpus == name)} dev questions", flush=True)
    corpora = {name: i for i, name in enumerate(CORPORA)}
    schemes = {
        "5 folds": {p.question.id: _hash_fold(p.question.id) for p in pools},
        "leave one corpus out": {p.question.id: corpora[p.question.corpus] for p in pools},
    }
    keys = ("passage R@5", "passage share R@5", "passage MRR@10", "file R@5")
    lines = [
        "### Learned fusion, cross-validated within the dev split (`bench/quality_learned.py`)",
        "",
        f"{len(pools)} dev questions of {args.questions}, "
        f"{sum(len(p.rows) for p in pools)} candidates; L2 on standardised features, summed "
        "over every candidate row. Beside each, the engine's fusion on the same questions.",
        "",
        "| scheme | L2 | method | " + " | ".join(keys) + " | vs engine: R@5 / MRR@10 |",
        "|---|---:|---|" + "---:|" * len(keys) + "---|",
    ]
    for scheme, folds in schemes.items():
        for l2 in L2_STRENGTHS:
            ranked = evaluate(pools, folds, l2)
            for method, ranks in ranked.items():
                summary = summarise(ranks)
                values = " | ".join(f"{summary[k]:.3f}" for k in keys)
                paired = paired_cell(ranks, ranked["engine 0.5/0.5"])
                lines.append(f"| {scheme} | {l2:g} | {method} | {values} | {paired} |")
    model = fit(np.vstack([p.x for p in pools]), np.concatenate([p.y for p in pools]), 100.0)
    lines += ["", "Weights on standardised features, fitted on all of dev (L2 100):", ""]
    lines += [f"- {w:+.3f} {name}" for name, w in zip(FEATURES, model[0][:-1], strict=True)]
    report = "\n".join(lines) + "\n"
    print(report)
    args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
