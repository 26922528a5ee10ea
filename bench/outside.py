"""The outside benchmark (boluo2077/deep-rag-benchmark) through the quality bench's metric.

Its 250 questions over the same 50 GitLab handbook pages carry gold passages per file
(`retrieval: [{path: [passage, ...]}, ...]`). They are not part of this repository: pass
the folder holding its `datasets/*.jsonl` on the command line. Every passage is one gold
(a question with passages in two files is multi-part, as in bench/quality.py), and the
same methods and metric run: Thoth dense / full-text / hybrid, bm25 and rrf bm25+dense.
Nothing is tuned on these questions; they are reported only.

    PYTHONPATH=src .venv/bin/python bench/outside.py PATH/TO/deep-rag-benchmark/datasets
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import MiniLM
from containment import report as containment_report
from encoders import OTHER_ENCODERS, other_encoder
from passages import normalise, raw_corpus
from quality import METHODS, RESULTS, rerank_note, run_corpus, summaries, table
from quality_labels import Gold, Question
from quality_metric import METRICS
from quality_thoth import CORPORA, MODEL

from thoth.embedding import load_embedder


def load_outside(folder: Path) -> list[Question]:
    """Every question of every *.jsonl in `folder`; style = the dataset's question type."""
    questions = []
    seen: set[str] = set()
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            gold = tuple(
                Gold(file, passage)
                for entry in item["retrieval"]
                for file, passages in entry.items()
                for passage in passages
                if normalise(passage)
            )
            qid = f"{path.stem}-{item['id']}"
            while qid in seen:  # the dataset repeats an id now and then
                qid += "+"
            seen.add(qid)
            questions.append(
                Question(
                    id=qid,
                    corpus="gitlab",
                    # A follow-up ("And for the next one?") is asked after its `context`
                    # turn: a client searches with both, as a conversation would.
                    question=" ".join(
                        str(part) for part in (item.get("context"), item["question"]) if part
                    ),
                    gold=gold,
                    style=str(item.get("type", path.stem)),
                )
            )
    return questions


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", type=Path, help="folder with the benchmark's *.jsonl")
    parser.add_argument("--out", type=Path, default=RESULTS / "outside")
    parser.add_argument(
        "--encoder",
        choices=["torch", *OTHER_ENCODERS],
        default="torch",
        help="what embeds Thoth's chunks and the questions (bench/encoders.py)",
    )
    parser.add_argument("--no-rerank", action="store_true", help="leave out the reranked row")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    questions = [q for q in load_outside(args.datasets) if q.gold]
    raw = raw_corpus(CORPORA["gitlab"])
    unknown = sorted({g.file for q in questions for g in q.gold} - set(raw))
    if unknown:
        sys.exit(f"outside bench: gold files not in the gitlab corpus: {unknown[:5]}")
    embedder = load_embedder(MODEL)
    encoder = embedder if args.encoder == "torch" else other_encoder(args.encoder, embedder)
    results, contained = run_corpus(
        "gitlab", questions, encoder, MiniLM(), [], rerank=not args.no_rerank
    )
    groups: dict[str, list[Question]] = {"all": questions}
    for q in questions:
        groups.setdefault(f"type:{q.style}", []).append(q)
    summary = summaries(results, groups)
    methods = [m for m in METHODS if m in results]
    md = [
        f"### Outside benchmark (deep-rag-benchmark), {len(questions)} questions, gitlab corpus",
        "",
        *(
            [f"Thoth's chunks and questions embedded by: {args.encoder}.", ""]
            if args.encoder != "torch"
            else []
        ),
        "Same methods and metric as bench/quality.py (a gold passage is found when a returned "
        "chunk of its file, as shown with its title and heading path, holds >= 50 % of its word "
        "trigrams; a question counts when all its "
        "passages are found). Nothing was tuned on these questions.",
        "",
        *rerank_note(),
        *table(summary, methods, groups),
        *table(summary, methods, groups, METRICS[6:]),
    ]
    for chunks, value in contained.items():
        table_lines = containment_report({"gitlab": value})[:4]
        md += [f"#### Containment of its gold passages in {chunks} chunks", "", *table_lines, ""]
    md.append(f"Wall time {time.perf_counter() - started:.0f} s.")
    report = "\n".join(md) + "\n"
    print(report)
    args.out.with_suffix(".md").write_text(report)
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
