"""The parts of a multi-part question, for the quality bench's `parts` variants: each part
searched on its own beside the whole question.

A question such as "How do I report a violation and is there an anonymous hotline?" has an
answer in two places; the whole question's vector and BM25 scores lean to whichever part has
more words, so the other part's passage can miss the top results. Tried as the engine's
default on 2026-11-27 and withdrawn: it won on the dev and test splits and lost on the
outside benchmark (docs/quality.md, "Searching each part of a multi-part question"). The
`sentences` rule, cutting only between sentences (a context sentence, then the question),
was tried on dev on 2026-11-28 and did not win there either (one question up or down at
best)."""

from __future__ import annotations

import re

# Where one part of a question ends and another begins: clause punctuation and the
# conjunctions that join questions.
_BOUNDARY = re.compile(r"[,;:?!]+|\s+(?:and|but|while|whereas|versus|vs\.?|or)\s+", re.IGNORECASE)
# Only between sentences, and after a question mark.
_SENTENCE = re.compile(r"(?<=[.?!])\s+(?=[A-Z])|\?\s*")
RULES = {"clauses": _BOUNDARY, "sentences": _SENTENCE}
_WORD = re.compile(r"[A-Za-z0-9#_'-]+")
_STOP_WORDS = (
    "a an the of to in on for at by with from is are was be do does did i we you it my our "
    "what which who whom when where why how can should must may this that there their its "
    "as about also any me your"
)
_STOP = frozenset(_STOP_WORDS.split())
MIN_CONTENT_WORDS = 2  # a part shorter than this says too little to search on its own
MAX_PARTS = 3


def question_parts(query: str, rule: str = "clauses") -> list[str]:
    """The parts of `query` worth searching alone, cut by `rule` (RULES): none unless
    there are at least two."""
    parts = [p.strip() for p in RULES[rule].split(query)]
    parts = [p for p in parts if _content_words(p) >= MIN_CONTENT_WORDS]
    return parts[:MAX_PARTS] if len(parts) >= 2 else []


def _content_words(text: str) -> int:
    return sum(1 for w in _WORD.findall(text) if w.lower() not in _STOP)
