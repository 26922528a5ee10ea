"""Raw source text and the passage rule every quality measure in bench/ shares.

Gold passages are verbatim excerpts of the raw source files, so neither the labels nor the
rule depend on Thoth's parser. Text is compared after `normalise`: link and image markup
keep their visible text (link text, alt text) and lose the URL, HTML tags go, everything is
lower-cased and every run of non-alphanumerics becomes one space.

Passage rule (the outside benchmark's, boluo2077/deep-rag-benchmark): a chunk contains a
passage when it holds at least half of the passage's distinct word trigrams
(PASSAGE_SHARE). A passage shorter than three words is compared by its one n-gram.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

# What a search result shows of a chunk, as the rule reads it: Thoth returns the title and
# heading path beside the text, so they count, as the baselines' chunks count the heading
# path they carry ("Title > H2 > H3", then the body). The reranker reads chunks the same way.
from thoth.serve.search.rerank import shown_text as shown_text

PASSAGE_SHARE = 0.5
MIN_WORDS, MAX_WORDS = 10, 40  # gold passage length, in normalised words

Trigram = tuple[str, ...]

_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*(?:\s+\"[^\"\n]*\")?\)")
_TAG = re.compile(r"</?[a-zA-Z][^<>\n]*>")
_NON_WORD = re.compile(r"[^0-9a-z]+")
MARKUP_SUFFIXES = {".md", ".markdown", ".txt"}


def normalise(text: str) -> list[str]:
    """Words of `text`, markdown and punctuation dropped, lower-cased."""
    text = _TAG.sub(" ", _LINK.sub(r" \1 ", text)).lower()
    return _NON_WORD.sub(" ", text).split()


def trigrams(words: Sequence[str]) -> set[Trigram]:
    n = min(3, len(words))
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)} if n else set()


def text_grams(words: Sequence[str]) -> set[Trigram]:
    """What a returned text is matched on: its word trigrams, and its bigrams and words too,
    because a passage of one or two words (a table row such as `| CLO | #legal |`) has only
    those; with trigrams alone such a passage could never be found."""
    return {tuple(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}


def trigram_share(passage: Sequence[str], text_trigrams: set[Trigram]) -> float:
    """Share of the passage's distinct word trigrams that occur in the text."""
    wanted = trigrams(passage)
    return len(wanted & text_trigrams) / len(wanted) if wanted else 0.0


def contains(passage: Sequence[str], text_trigrams: set[Trigram]) -> bool:
    """The passage rule: the text holds >= PASSAGE_SHARE of the passage's trigrams."""
    return trigram_share(passage, text_trigrams) >= PASSAGE_SHARE


def contains_run(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether `needle` occurs contiguously in `haystack` (both normalised word lists)."""
    return f" {' '.join(needle)} " in f" {' '.join(haystack)} " if needle else False


def raw_text(path: Path) -> str:
    """A source file's own text: markdown and plain text as stored; PDF and DOCX through
    pypdf and python-docx directly (not Thoth's parser)."""
    suffix = path.suffix.lower()
    if suffix in MARKUP_SUFFIXES:
        return path.read_text(encoding="utf-8", errors="replace")
    if suffix == ".pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    if suffix == ".docx":
        import docx

        document = docx.Document(str(path))
        cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
        return "\n".join([p.text for p in document.paragraphs] + cells)
    raise ValueError(f"no raw text for {path.name}")


def raw_corpus(root: Path) -> dict[str, str]:
    """{relative path: raw text} of every file with raw text under `root`, sorted by path."""
    out: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix.lower() in {*MARKUP_SUFFIXES, ".pdf", ".docx"}:
            out[path.relative_to(root).as_posix()] = raw_text(path)
    return out
