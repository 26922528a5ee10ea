"""The quality bench's metrics, defined once for Thoth's modes and the baselines alike.

A method returns a ranked list of chunks (at most DEPTH are judged); each chunk is a file
path and its text's word trigrams (bench/passages.py).

- Passage found at rank r: the r-th chunk is of the gold passage's file and contains the
  passage (>= 50 % of its distinct word trigrams, passages.contains).
- File found at rank r: the r-th chunk is of that file.
- A question is answered ("all") at the rank where its last gold passage (or file) is
  found, and partly answered ("any") at the rank of its first. For a single-passage
  question both are the same rank. "passage share R@5" counts each gold passage on its
  own: the mean over questions of the share of their passages found in the top 5;
  "file share R@5" does the same for each gold file.
- recall@k: share of questions answered within the top k; MRR@10: mean of 1 / rank,
  0 when not answered within 10. Ranks are chunk ranks (results are not grouped by file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from passages import Trigram, contains
from quality_labels import Question

DEPTH = 10
KS = (5, 10)


@dataclass(frozen=True)
class Ranks:
    """1-based ranks within DEPTH at which a question is answered, None when it is not."""

    passage_all: int | None
    passage_any: int | None
    file_all: int | None
    file_any: int | None
    passages: tuple[int | None, ...] = ()  # per gold passage
    files: tuple[int | None, ...] = ()  # per gold file


def first_rank(hits: Iterable[bool]) -> int | None:
    for rank, hit in enumerate(hits, start=1):
        if rank > DEPTH:
            return None
        if hit:
            return rank
    return None


def _all(ranks: Sequence[int | None]) -> int | None:
    return None if any(r is None for r in ranks) else max(r for r in ranks if r is not None)


def _any(ranks: Sequence[int | None]) -> int | None:
    found = [r for r in ranks if r is not None]
    return min(found) if found else None


def question_ranks(
    question: Question, paths: Sequence[str], grams: Sequence[set[Trigram]]
) -> Ranks:
    """Ranks for one question given the returned chunks' paths and trigrams, best first."""
    files = [first_rank(p == f for p in paths) for f in question.files]
    passages = [
        first_rank(
            p == gold.file and contains(gold.words, g) for p, g in zip(paths, grams, strict=True)
        )
        for gold in question.gold
    ]
    return Ranks(
        _all(passages), _any(passages), _all(files), _any(files), tuple(passages), tuple(files)
    )


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr(ranks: Sequence[int | None]) -> float:
    return sum(1.0 / r for r in ranks if r is not None) / len(ranks) if ranks else 0.0


METRICS = (
    "passage R@5",
    "passage R@10",
    "passage MRR@10",
    "file R@5",
    "file R@10",
    "file MRR@10",
    "passage R@5 any",
    "file R@5 any",
    "passage share R@5",
    "file share R@5",
)


def _share(ranks: Sequence[int | None], k: int) -> float:
    return recall_at(ranks, k) if ranks else 0.0


def _mean_share(per_question: Sequence[Sequence[int | None]]) -> float:
    shares = [_share(ranks, 5) for ranks in per_question]
    return sum(shares) / len(shares) if shares else 0.0


def summarise(ranks: Sequence[Ranks]) -> dict[str, float]:
    """Every metric in METRICS ("any": partly answered, differs only for multi-part)."""
    passage = [r.passage_all for r in ranks]
    files = [r.file_all for r in ranks]
    values = {
        "passage R@5": recall_at(passage, 5),
        "passage R@10": recall_at(passage, 10),
        "passage MRR@10": mrr(passage),
        "file R@5": recall_at(files, 5),
        "file R@10": recall_at(files, 10),
        "file MRR@10": mrr(files),
        "passage R@5 any": recall_at([r.passage_any for r in ranks], 5),
        "file R@5 any": recall_at([r.file_any for r in ranks], 5),
        "passage share R@5": _mean_share([r.passages for r in ranks]),
        "file share R@5": _mean_share([r.files for r in ranks]),
    }
    return {name: round(value, 4) for name, value in values.items()}


def paired_difference(
    a: Sequence[float], b: Sequence[float], resamples: int = 2000, seed: int = 17
) -> tuple[float, float, float]:
    """mean(a - b) over the same questions, with a 95 % paired bootstrap interval: a change
    whose interval holds 0 is not told apart from chance on these questions."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if not len(diff):
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (resamples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


def found_at(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal(rank: int | None) -> float:
    return 1.0 / rank if rank is not None else 0.0


def paired_cell(mine: Sequence[Ranks], base: Sequence[Ranks]) -> str:
    """R@5 and MRR@10 against `base`, paired: "+0.012 [-0.004, +0.029] / +0.008 [...]"."""
    cells = []
    values: tuple[Callable[[Ranks], float], ...] = (
        lambda r: found_at(r.passage_all, 5),
        lambda r: reciprocal(r.passage_all),
    )
    for value in values:
        mean, low, high = paired_difference([value(r) for r in mine], [value(r) for r in base])
        cells.append(f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]")
    return " / ".join(cells)


EXPERIMENT_KEYS = (
    "passage R@5",
    "passage share R@5",
    "passage MRR@10",
    "passage R@10",
    "file R@5",
    "file share R@5",
)


def paired_table(
    by_method: dict[str, list[Ranks]], base: str, first: str, chosen: str = ""
) -> list[str]:
    """A markdown table of the experiment scripts: each method's EXPERIMENT_KEYS and its paired
    difference from `base` in R@5 and MRR@10; `chosen` is marked."""
    lines = [
        f"| {first} | " + " | ".join(EXPERIMENT_KEYS) + " | vs engine: R@5 / MRR@10 |",
        "|---|" + "---:|" * len(EXPERIMENT_KEYS) + "---|",
    ]
    for method, ranks in by_method.items():
        summary = summarise(ranks)
        values = " | ".join(f"{summary[k]:.3f}" for k in EXPERIMENT_KEYS)
        mark = " (chosen)" if method == chosen else ""
        lines.append(f"| {method}{mark} | {values} | {paired_cell(ranks, by_method[base])} |")
    return lines
