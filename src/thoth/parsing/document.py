"""What every parser produces: a document as a title, metadata and heading-scoped blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

BlockKind = Literal["text", "code", "table"]


class UnsupportedFileType(Exception):
    """The file's extension is not one Thoth parses; the pipeline counts it as skipped."""


class ParseError(Exception):
    """A supported file that cannot be read. The message says why and never quotes content."""


@dataclass(frozen=True)
class Block:
    """One unit of content under a heading path.

    A "code" block is one whole code fence or preformatted section. A "table" block is
    rendered as pipe rows, one row a line, and its first line is always the header row
    (the chunker repeats it when it has to split a table).
    """

    heading_path: tuple[str, ...]
    text: str
    kind: BlockKind = "text"
    # The innermost heading's anchor as GitLab renders it (parsing.anchors): derived from the
    # headings before it, so not part of what makes two blocks equal.
    anchor: str = field(default="", compare=False)


@dataclass(frozen=True)
class ParsedDocument:
    path: str
    title: str
    metadata: dict[str, Any]
    blocks: list[Block]

    @property
    def text(self) -> str:
        """The readable text, with a markdown-style heading line wherever the section changes."""
        parts: list[str] = []
        current: tuple[str, ...] = ()
        for block in self.blocks:
            if block.heading_path != current:
                parts.extend(heading_lines(current, block.heading_path))
                current = block.heading_path
            parts.append(f"```\n{block.text}\n```" if block.kind == "code" else block.text)
        return "\n\n".join(parts)


def heading_lines(old: tuple[str, ...], new: tuple[str, ...]) -> list[str]:
    """The markdown heading lines that lead from section `old` into section `new`."""
    shared = 0
    while shared < min(len(old), len(new)) and old[shared] == new[shared]:
        shared += 1
    return [f"{'#' * min(depth + 1, 6)} {new[depth]}" for depth in range(shared, len(new))]


_INDEX_STEMS = frozenset({"index", "_index", "readme"})


def title_from_path(path: str) -> str:
    """A readable title from a file name: `parental-leave.md` -> "Parental leave".

    Index pages (`index.md`, `_index.md`, `README.md`) are named after their folder.
    """
    pure = PurePosixPath(path.replace("\\", "/"))
    stem = pure.stem
    if stem.lower() in _INDEX_STEMS and pure.parent.name:
        stem = pure.parent.name
    words = re.sub(r"[-_\s]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else path
