"""The frozen dev/test split of the quality questions: choices are made on dev, reported on test.

Rule: the 72 questions the fusion weight was tuned on (ids gl-NN and lr-NN) are dev. The
others are ranked within their corpus by SHA-256 of their id; even ranks are test, odd
ranks dev (50/50, stratified by corpus, independent of file order). The rule was applied
once and frozen into bench/quality_split.json with the test ids and a SHA-256 of the test
questions' content; questions added later are dev. `check` (run by the bench and by
tests/unit/test_bench_quality.py) fails when a test question changes, disappears, or the
split file no longer matches the rule or its own hash.

    .venv/bin/python bench/quality_split.py            # check the split
    .venv/bin/python bench/quality_split.py --freeze   # write it (only if there is none)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from quality_labels import Question, load_questions

BENCH = Path(__file__).resolve().parent
SPLIT = BENCH / "quality_split.json"
QUESTIONS = BENCH / "quality_questions.yaml"
TUNED_ON = re.compile(r"^(gl|lr)-\d+$")  # the first 72 questions: the fusion weight saw them


def _id_hash(qid: str) -> str:
    return hashlib.sha256(qid.encode()).hexdigest()


def assign(questions: Sequence[Question]) -> dict[str, str]:
    """{id: "dev" | "test"} by the rule in the module docstring."""
    out = {q.id: "dev" for q in questions if TUNED_ON.match(q.id)}
    for corpus in sorted({q.corpus for q in questions}):
        fresh = sorted(
            (q.id for q in questions if q.corpus == corpus and q.id not in out), key=_id_hash
        )
        out.update({qid: "test" if i % 2 == 0 else "dev" for i, qid in enumerate(fresh)})
    return out


def content_sha256(questions: Sequence[Question]) -> str:
    """SHA-256 of the questions' content (id, text, corpus, style, kind, gold), by id."""
    payload = [q.content() for q in sorted(questions, key=lambda q: q.id)]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def freeze(questions: Sequence[Question]) -> dict[str, Any]:
    split = assign(questions)
    test = [q for q in questions if split[q.id] == "test"]
    return {
        "rule": "ids gl-NN/lr-NN (tuned on) are dev; the rest ranked per corpus by "
        "sha256(id), even ranks test, odd ranks dev; questions added after freezing are dev",
        "dev_ids": sorted(qid for qid, s in split.items() if s == "dev"),
        "test_ids": sorted(q.id for q in test),
        "test_sha256": content_sha256(test),
    }


def check(questions: Sequence[Question], frozen: Mapping[str, Any]) -> list[str]:
    """Problems with `questions` against the frozen split; empty when all is well."""
    by_id = {q.id: q for q in questions}
    test_ids, dev_ids = list(frozen["test_ids"]), list(frozen["dev_ids"])
    problems = [f"test question {qid} is gone" for qid in test_ids if qid not in by_id]
    at_freeze = [by_id[qid] for qid in [*test_ids, *dev_ids] if qid in by_id]
    if not problems:
        expected = assign(at_freeze)
        if sorted(q for q, s in expected.items() if s == "test") != sorted(test_ids):
            problems.append("split file's test ids do not follow the split rule")
        if content_sha256([by_id[qid] for qid in test_ids]) != frozen["test_sha256"]:
            problems.append("a test question changed (content hash differs from the split file)")
    return problems


def load_split(path: Path = SPLIT) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def split_of(questions: Sequence[Question], frozen: Mapping[str, Any]) -> dict[str, str]:
    """{id: "dev" | "test"}: the frozen test ids are test, everything else dev."""
    test = set(frozen["test_ids"])
    return {q.id: "test" if q.id in test else "dev" for q in questions}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--freeze", action="store_true", help="write the split file")
    args = parser.parse_args(argv)
    questions = load_questions(QUESTIONS)
    if args.freeze:
        if SPLIT.exists():
            sys.exit(f"{SPLIT} exists: the split is frozen")
        SPLIT.write_text(json.dumps(freeze(questions), indent=1) + "\n")
        print(f"wrote {SPLIT}")
        return 0
    problems = check(questions, load_split())
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
