"""Heading anchors as GitLab renders markdown: the `#fragment` a citation can point at.

GitLab's documented rules ("Heading IDs and links"): the heading's text is lower-cased;
everything that is not a word character, a hyphen or a space is dropped (punctuation, emoji,
markup); spaces become hyphens; runs of hyphens collapse to one. A heading whose id was
already generated in the same document gets `-1`, `-2` ... appended, in document order.
"""

from __future__ import annotations

import re

_NOT_WORD = re.compile(r"[^\w\- ]", re.UNICODE)
_HYPHENS = re.compile(r"-{2,}")


def slug(text: str) -> str:
    """The id of one heading, before duplicates are numbered."""
    kept = _NOT_WORD.sub("", text.strip().lower())
    return _HYPHENS.sub("-", kept.replace(" ", "-"))


class HeadingAnchors:
    """Numbers repeated ids while a document's headings are visited in order."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def next(self, text: str) -> str:
        base = slug(text)
        count = self._seen.get(base)
        self._seen[base] = 0 if count is None else count + 1
        return base if count is None else f"{base}-{count + 1}"
