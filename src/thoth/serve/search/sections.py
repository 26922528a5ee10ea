"""The enclosing section of a chunk, for results asked for with context="section".

A chunk never spans two heading sections (design.md §4), and a snapshot's rows are in (path,
ordinal) order, so a section is the run of rows around a chunk with the same path and heading
path. Its text is rebuilt from those rows: a long block split into several chunks repeats up to
`overlap_tokens` of one chunk at the start of the next, and that repeat is cut. A section longer
than the bound keeps the winning chunk whole and takes neighbours, nearest first, while they fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SECTION_TOKENS = 1000  # the bound the tool description promises, in LLM tokens
CHARS_PER_TOKEN = 4  # English prose; the bound is applied in characters
SECTION_CHARS = SECTION_TOKENS * CHARS_PER_TOKEN
_MIN_OVERLAP = 16  # characters; a shorter shared edge is more likely chance than overlap
_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class SectionRows:
    """The rows [start, stop) of one section; `start` identifies it within its source."""

    start: int
    stop: int


def section_rows(paths: Sequence[str], headings: Sequence[str], row: int) -> SectionRows:
    """The run of rows around `row` that share its path and heading."""
    key = (paths[row], headings[row])
    start = row
    while start > 0 and (paths[start - 1], headings[start - 1]) == key:
        start -= 1
    stop = row + 1
    while stop < len(paths) and (paths[stop], headings[stop]) == key:
        stop += 1
    return SectionRows(start, stop)


def section_text(
    texts: Sequence[str], rows: SectionRows, row: int, max_chars: int = SECTION_CHARS
) -> str:
    """The section's text, rows joined without their overlaps, bounded around `row`."""
    first = last = row
    size = len(texts[row])
    while True:
        grown = False
        for candidate in (last + 1, first - 1):
            if not rows.start <= candidate < rows.stop or first <= candidate <= last:
                continue
            extra = len(texts[candidate]) + len(_SEPARATOR)
            if size + extra <= max_chars:
                first, last = min(first, candidate), max(last, candidate)
                size += extra
                grown = True
        if not grown:
            break
    return join_chunks(texts[first : last + 1])


def join_chunks(texts: Sequence[str]) -> str:
    """Consecutive chunk texts as one text, each chunk's repeat of the previous one cut."""
    if not texts:
        return ""
    out = texts[0]
    for text in texts[1:]:
        shared = overlap(out, text)
        out = out + text[shared:] if shared else out + _SEPARATOR + text
    return out


def overlap(before: str, after: str) -> int:
    """The length of the longest start of `after` that `before` ends with (at least
    _MIN_OVERLAP characters, else 0)."""
    for size in range(min(len(before), len(after)), _MIN_OVERLAP - 1, -1):
        if after[size - 1] == before[-1] and before.endswith(after[:size]):
            return size
    return 0
