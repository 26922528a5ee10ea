"""Collects blocks under the current heading path while a parser walks a document."""

from __future__ import annotations

from thoth.parsing.anchors import HeadingAnchors
from thoth.parsing.document import Block, BlockKind


class SectionBuilder:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.first_h1 = ""
        self._headings: list[tuple[int, str, str]] = []  # level, text, anchor
        self._anchors = HeadingAnchors()

    @property
    def heading_path(self) -> tuple[str, ...]:
        return tuple(text for _, text, _ in self._headings)

    @property
    def anchor(self) -> str:
        """The anchor of the innermost open heading ("" before the first)."""
        return self._headings[-1][2] if self._headings else ""

    def heading(self, level: int, text: str) -> None:
        """Open a section: a heading closes every open section at its level or deeper."""
        while self._headings and self._headings[-1][0] >= level:
            self._headings.pop()
        if text:
            self._headings.append((level, text, self._anchors.next(text)))
            if level == 1 and not self.first_h1:
                self.first_h1 = text

    def add(self, kind: BlockKind, text: str) -> None:
        if text.strip():
            self.blocks.append(Block(self.heading_path, text, kind, self.anchor))
