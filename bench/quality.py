"""Benchmark: retrieval quality on labelled questions, Thoth beside two outside baselines.

Choices (fusion, weights, chunking) are made on the dev split; results are reported on the
test split. The split was frozen in bench/quality_split.json before anything was measured
(bench/quality_split.py), and the bench refuses to run if a test question changed.

Questions: bench/quality_questions.yaml (bench/quality_labels.py), gold passages taken
verbatim from the raw source files and validated before anything is measured: each is
10-40 words, occurs in its file's raw text and in no other file of its corpus.

Methods, on the same questions and the same metric:
- `thoth dense`, `thoth fulltext`, `thoth hybrid` (the default): Thoth's own index and
  search engine, built in-process as the pipeline builds it (bench/quality_thoth.py).
- `bm25`: bm25s, English stopwords, over heading-aware raw-markdown chunks of ~900
  characters with the heading path prefixed (bench/baseline_chunker.py, bench/baselines.py).
- `rrf bm25+dense`: RRF (k = 60, top 50 of each) of that BM25 and all-MiniLM-L6-v2 on the
  same chunks.
With --variants (dev split only), Thoth's fusion variants (bench/quality_variants.py) too.

Metric (bench/quality_metric.py): a passage is found when a returned chunk of its file holds
>= 50 % of its word trigrams after normalisation (bench/passages.py); a multi-part question
counts as answered ("all") when every gold passage / file is found, partly ("any") when
one is. Reported: passage R@5, R@10, MRR@10 and file R@5, R@10, MRR@10, per corpus, per
question style, per answer kind and for multi-part questions; plus the containment share
(bench/containment.py): gold passages that any chunk of their file contains at all, for
Thoth's chunks and for the baseline chunks.

    PYTHONPATH=src .venv/bin/python bench/quality.py [--split test|dev|all]
        [--corpus all|gitlab|sourcegraph|sample ...] [--variants]

Vectors are cached under bench/.cache/quality/ (the Sourcegraph handbook embeds ~9k Thoth
chunks and ~12k baseline chunks once).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from baseline_chunker import chunk_markdown
from baselines import RRF_DEPTH, RRF_K, BaselineIndex, MiniLM
from containment import Miss, containment
from containment import report as containment_report
from encoders import OTHER_ENCODERS, BenchEncoder, other_encoder
from passages import PASSAGE_SHARE, Trigram, normalise, raw_corpus, text_grams
from quality_labels import LabelError, Question, label_problems, load_questions
from quality_metric import DEPTH, METRICS, Ranks, paired_cell, question_ranks, summarise
from quality_split import check, load_split, split_of
from quality_thoth import (
    CACHE,
    CORPORA,
    MAX_TOKENS,
    MODEL,
    BuiltIndex,
    build_index,
    load_corpus,
    retrieve,
)
from quality_variants import FUSION_VARIANTS, Variant

from thoth.bucket import cells
from thoth.embedding import load_embedder, load_passage_encoder
from thoth.serve.search.engine import DENSE_WEIGHT

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
QUESTIONS = REPO / "bench" / "quality_questions.yaml"
THOTH_MODES = ("thoth dense", "thoth fulltext", "thoth hybrid", "thoth hybrid+rerank")
RERANKED = "thoth hybrid+rerank"  # search_handbook(rerank=true): a per-call option
RERANK_SECONDS: list[float] = []  # wall time of every search with rerank=True, this run
BASELINES = ("bm25", "rrf bm25+dense")
METHODS = (*THOTH_MODES, *BASELINES)
DEFAULT = "thoth hybrid"  # what every variant is compared with
TABLE_METRICS = METRICS[:6]

ByMethod = dict[str, dict[str, Ranks]]  # {method: {question id: ranks}}


def _ranks(
    q: Question, ranking: Sequence[int], paths: Sequence[str], grams: Sequence[set[Trigram]]
) -> Ranks:
    top = list(ranking[:DEPTH])
    return question_ranks(q, [paths[r] for r in top], [grams[r] for r in top])


def evaluate_thoth(
    built: BuiltIndex,
    questions: Sequence[Question],
    variants: Sequence[Variant],
    rerank: bool = True,
) -> ByMethod:
    out: ByMethod = {}
    paths, grams = built.index.paths, built.trigrams
    parts_rules = {v.parts_rule for v in variants if v.parts_rule}
    for q in questions:
        got = retrieve(built, q.question, parts_rules=parts_rules, with_rerank=rerank)
        rankings = {
            "thoth dense": [row for row, _ in got.dense],
            "thoth fulltext": [row for row, _ in got.fulltext],
            "thoth hybrid": got.hybrid,
        }
        if rerank:
            rankings[RERANKED] = got.reranked
            RERANK_SECONDS.append(got.rerank_seconds)
        rankings |= {v.name: v.rank(got) for v in variants}
        for method, ranking in rankings.items():
            out.setdefault(method, {})[q.id] = _ranks(q, ranking, paths, grams)
    return out


def evaluate_baselines(index: BaselineIndex, questions: Sequence[Question]) -> ByMethod:
    paths = [c.path for c in index.chunks]
    grams = [text_grams(normalise(c.text)) for c in index.chunks]
    out: ByMethod = {"bm25": {}, "rrf bm25+dense": {}}
    for q in questions:
        out["bm25"][q.id] = _ranks(q, index.bm25(q.question), paths, grams)
        if index.vectors is not None:
            out["rrf bm25+dense"][q.id] = _ranks(q, index.fused(q.question), paths, grams)
    return out


def grams_by_path(
    paths: Sequence[str], grams: Sequence[set[Trigram]]
) -> dict[str, list[set[Trigram]]]:
    out: dict[str, list[set[Trigram]]] = {}
    for path, chunk_grams in zip(paths, grams, strict=True):
        out.setdefault(path, []).append(chunk_grams)
    return out


# --- report ------------------------------------------------------------------------------


def groups_of(questions: Sequence[Question]) -> dict[str, list[Question]]:
    """Question groups the report breaks results down by."""
    groups: dict[str, list[Question]] = {"all": list(questions)}
    for key in ("corpus", "style", "kind"):
        for q in questions:
            name = getattr(q, key) if key == "corpus" else f"{key}:{getattr(q, key)}"
            groups.setdefault(name, []).append(q)
    multi = [q for q in questions if q.multi_file]
    if multi:
        groups["multi-file"] = multi
    return groups


def summaries(
    results: ByMethod, groups: dict[str, list[Question]]
) -> dict[str, dict[str, dict[str, float]]]:
    """{method: {group: metrics}}; a group is left out for a method that missed any of it."""
    return {
        method: {
            g: summarise([by_id[q.id] for q in qs])
            for g, qs in groups.items()
            if all(q.id in by_id for q in qs)
        }
        for method, by_id in results.items()
    }


def table(
    summary: dict[str, dict[str, dict[str, float]]],
    methods: Sequence[str],
    groups: dict[str, list[Question]],
    metrics: Sequence[str] = TABLE_METRICS,
) -> list[str]:
    lines = [
        "| group (questions) | method | " + " | ".join(metrics) + " |",
        "|---|---|" + "---:|" * len(metrics),
    ]
    for group, members in groups.items():
        rows = {m: summary[m][group] for m in methods if group in summary[m]}
        for method in methods:
            cells = [_cell(rows, method, metric) for metric in metrics]
            lines.append(f"| {group} ({len(members)}) | {method} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _cell(rows: dict[str, dict[str, float]], method: str, metric: str) -> str:
    """One value, bold when best among the methods; n/a for a method that was not run."""
    if method not in rows:
        return "n/a"
    value = rows[method][metric]
    return f"**{value:.3f}**" if value == max(r[metric] for r in rows.values()) else f"{value:.3f}"


VARIANT_COLUMNS = (
    ("all", "passage R@5"),
    ("all", "passage share R@5"),
    ("multi-file", "passage share R@5"),
    ("all", "passage MRR@10"),
    ("all", "passage R@10"),
    ("all", "file R@5"),
    ("gitlab", "passage R@5"),
    ("sourcegraph", "passage R@5"),
    ("sample", "passage R@5"),
    ("style:keyword", "passage R@5"),
    ("kind:table", "passage R@5"),
)


def variants_table(
    summary: dict[str, dict[str, dict[str, float]]],
    variants: Sequence[Variant],
    questions: Sequence[Question],
    results: ByMethod,
) -> list[str]:
    """One line per method and variant: the numbers a choice is made on, and each one's
    paired difference from the default with its 95 % bootstrap interval."""
    groups = groups_of(questions)
    columns = [(g, m) for g, m in VARIANT_COLUMNS if g in groups]
    head = [f"{g} {m} ({len(groups[g])})" for g, m in columns]
    lines = [
        "#### Variants (choose here, dev split only)",
        "",
        "| method | " + " | ".join(head) + " | vs thoth hybrid: R@5 / MRR@10 [95 % CI] |",
        "|---|" + "---:|" * len(columns) + "---|",
    ]
    ids = [q.id for q in questions]
    base = [results[DEFAULT][i] for i in ids]
    for method in [*METHODS, *(v.name for v in variants)]:
        rows = summary.get(method, {})
        cells = [f"{rows[g][m]:.3f}" if g in rows else "n/a" for g, m in columns]
        mine = results.get(method, {})
        paired = paired_cell([mine[i] for i in ids], base) if len(mine) == len(ids) else "n/a"
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {paired} |")
    return [*lines, ""]


def machine() -> dict[str, Any]:
    import bm25s
    import lancedb
    import sentence_transformers
    import torch

    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "lancedb": lancedb.__version__,
        "bm25s": bm25s.__version__,
    }


def render(
    args: argparse.Namespace,
    questions: Sequence[Question],
    summary: dict[str, dict[str, dict[str, float]]],
    methods: Sequence[str],
    contained: dict[str, dict[str, tuple[int, list[Miss]]]],
    seconds: float,
) -> list[str]:
    groups = groups_of(questions)
    head = [g for g in groups if not g.startswith(("style:", "kind:"))]
    info = machine()
    md = [
        f"### Retrieval quality, {args.split} split",
        "",
        f"Thoth's chunks and questions embedded by: {getattr(args, 'encoder', 'torch')}.",
        "",
        f"{len(questions)} questions ({args.split} split of bench/quality_questions.yaml, "
        "frozen in bench/quality_split.json). Thoth: all-MiniLM-L6-v2, chunks of "
        f"{MAX_TOKENS or 'the model’s 256'} tokens, hybrid = {DENSE_WEIGHT:g} x min-max cosine "
        f"+ {1 - DENSE_WEIGHT:g} x min-max "
        f"BM25. bm25: bm25s (English stopwords) over ~900-character heading-aware raw-markdown "
        f"chunks with the heading path prefixed; rrf: RRF k = {RRF_K} of the top {RRF_DEPTH} of "
        "that BM25 and of all-MiniLM-L6-v2 on the same chunks. Passage found: a returned chunk of "
        "the gold file (as shown: Thoth's title and heading path with its text, the baselines' "
        f"heading path and body) holds >= {PASSAGE_SHARE:.0%} of the passage's word trigrams; "
        "multi-part "
        "questions count when every gold passage/file is in the top k. Bold: best in its group.",
        "",
        *rerank_note(),
        *table(summary, methods, {g: groups[g] for g in head}),
        "By question style and by where the answer sits in the source (kind):",
        "",
        *table(
            summary, methods, {g: groups[g] for g in groups if g.startswith(("style:", "kind:"))}
        ),
    ]
    if "multi-file" in groups:
        md += [
            "Multi-part questions (gold in two files): all = every passage/file in the top 5, "
            "any = at least one.",
            "",
            *table(
                summary,
                methods,
                {"multi-file": groups["multi-file"]},
                ("passage R@5", "passage R@5 any", "file R@5", "file R@5 any"),
            ),
        ]
    for chunks, by_corpus in contained.items():
        md += [f"#### Containment: gold passages present in some {chunks} chunk of their file", ""]
        md += [*containment_report(by_corpus), ""]
    md += [
        f"Machine: {info['cpu']}, {info['cpu_count']} CPUs, Python {info['python']}, torch "
        f"{info['torch']}, sentence-transformers {info['sentence_transformers']}, lancedb "
        f"{info['lancedb']}, bm25s {info['bm25s']}. Wall time {seconds:.0f} s.",
        "",
        "Reproduce: `PYTHONPATH=src .venv/bin/python bench/quality.py --split "
        + args.split
        + ("" if "all" in args.corpus else " --corpus " + " ".join(args.corpus))
        + (" --variants" if args.variants else "")
        + (f" --encoder {args.encoder}" if args.encoder != "torch" else "")
        + "`",
    ]
    return md


def rerank_note() -> list[str]:
    """What the reranked row is, and what a search with rerank=True took in this run."""
    if not RERANK_SECONDS:
        return []
    ms = np.percentile(np.asarray(RERANK_SECONDS) * 1000, [50, 95])
    return [
        f"{RERANKED}: search_handbook(rerank=true), the engine's hybrid top 20 re-read by the "
        f"cross-encoder ms-marco-MiniLM-L-12-v2 (int8): {len(RERANK_SECONDS)} searches, "
        f"p50 {ms[0]:.0f} ms, p95 {ms[1]:.0f} ms each, wall clock on this machine.",
        "",
    ]


# --- run ---------------------------------------------------------------------------------


def chosen_questions(args: argparse.Namespace, corpora: Sequence[str]) -> list[Question]:
    questions = load_questions(args.questions)
    frozen = load_split()
    problems = check(questions, frozen)
    if problems:
        raise LabelError("quality bench: split check failed:\n  " + "\n  ".join(problems))
    split = split_of(questions, frozen)
    return [q for q in questions if q.corpus in corpora and args.split in ("all", split[q.id])]


def run_corpus(
    name: str,
    questions: Sequence[Question],
    embedder: BenchEncoder,
    minilm: MiniLM,
    variants: Sequence[Variant],
    embed_baselines: bool = True,
    rerank: bool = True,
) -> tuple[ByMethod, dict[str, tuple[int, list[Miss]]]]:
    """Rankings of every method for one corpus's questions, and containment per chunking."""
    raw = raw_corpus(CORPORA[name])
    problems = label_problems(load_questions(QUESTIONS), raw, name)
    if problems:
        raise LabelError("quality bench: bad labels:\n  " + "\n  ".join(problems))
    print(f"corpus {name}: {len(questions)} questions", flush=True)
    built = build_index(load_corpus(name), embedder, MAX_TOKENS or embedder.max_tokens)
    chunks = [c for path, text in raw.items() for c in chunk_markdown(path, text)]
    baseline = BaselineIndex.build(chunks, minilm, CACHE, name, embed_baselines)
    results = evaluate_thoth(built, questions, variants, rerank) | evaluate_baselines(
        baseline, questions
    )
    baseline_grams = [text_grams(normalise(c.text)) for c in chunks]
    contained = {
        "Thoth": containment(questions, raw, grams_by_path(built.index.paths, built.trigrams)),
        "baseline": containment(
            questions,
            raw,
            grams_by_path([c.path for c in chunks], baseline_grams),
        ),
    }
    return results, contained


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["test", "dev", "all"], default="test")
    parser.add_argument("--corpus", nargs="+", choices=["all", *CORPORA], default=["all"])
    parser.add_argument("--variants", action="store_true", help="Thoth fusion variants (dev)")
    parser.add_argument(
        "--variants-matching", default="", metavar="REGEX", help="only the variants named so"
    )
    parser.add_argument(
        "--cached-baselines",
        action="store_true",
        help="do not embed baseline chunks: rrf only where their vectors are cached",
    )
    parser.add_argument(
        "--encoder",
        choices=["torch", "onnx-fp32", "onnx-int8", *OTHER_ENCODERS],
        default="torch",
        help="what embeds Thoth's chunks and the questions (the baselines stay on torch)",
    )
    parser.add_argument(
        "--cells-from",
        type=int,
        default=None,
        help="give snapshots of at least this many chunks cells (thoth.bucket.cells; the "
        f"default is {cells.MIN_ROWS:,}), to measure what probing costs in quality",
    )
    parser.add_argument(
        "--probe-share",
        type=float,
        default=cells.PROBE_SHARE,
        help=f"with cells, the share of them a query scans (default {cells.PROBE_SHARE})",
    )
    parser.add_argument(
        "--no-rerank",
        action="store_true",
        help=f"leave out {RERANKED!r} (the cross-encoder costs ~1-2 s a question)",
    )
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.cells_from is not None:
        cells.MIN_ROWS = args.cells_from
    cells.PROBE_SHARE = args.probe_share
    if args.variants and args.split == "test":
        sys.exit("quality bench: variants are for choosing; run them on --split dev")
    started = time.perf_counter()
    corpora = list(CORPORA) if "all" in args.corpus else list(dict.fromkeys(args.corpus))
    questions = chosen_questions(args, corpora)
    variants = [v for v in FUSION_VARIANTS if re.search(args.variants_matching, v.name)]
    variants = variants if args.variants else []
    minilm = MiniLM()
    embedder: BenchEncoder = load_embedder(MODEL)
    if args.encoder in OTHER_ENCODERS:
        embedder = other_encoder(args.encoder, load_embedder(MODEL))
    elif args.encoder != "torch":
        variant = args.encoder.removeprefix("onnx-")
        embedder = load_passage_encoder(MODEL, variant, 64, len(os.sched_getaffinity(0)))
    results: ByMethod = {}
    contained: dict[str, dict[str, tuple[int, list[Miss]]]] = {"Thoth": {}, "baseline": {}}
    for name in corpora:
        mine = [q for q in questions if q.corpus == name]
        by_method, by_chunks = run_corpus(
            name, mine, embedder, minilm, variants, not args.cached_baselines, not args.no_rerank
        )
        for method, by_id in by_method.items():
            results.setdefault(method, {}).update(by_id)
        for chunks, value in by_chunks.items():
            contained[chunks][name] = value
    summary = summaries(results, groups_of(questions))
    methods = [m for m in METHODS if m in results]
    md = render(args, questions, summary, methods, contained, time.perf_counter() - started)
    if variants:
        md += ["", *variants_table(summary, variants, questions, results)]
    report = "\n".join(md) + "\n"
    print(report)
    out = args.out or RESULTS / "-".join(
        ["quality", *([] if args.split == "test" else [args.split]), *args.corpus[: len(corpora)]]
    ).replace("-all", "")
    payload = {
        "bench": "quality",
        "split": args.split,
        "machine": machine(),
        "questions": len(questions),
        "results": summary,
        "containment": {
            chunks: {
                name: {"gold": n, "misses": [m.__dict__ for m in misses]}
                for name, (n, misses) in by_corpus.items()
            }
            for chunks, by_corpus in contained.items()
        },
        "per_question": {
            method: {qid: r.__dict__ for qid, r in by_id.items()}
            for method, by_id in results.items()
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
    out.with_suffix(".md").write_text(report)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
