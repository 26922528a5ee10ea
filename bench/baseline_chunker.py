"""Heading-aware chunks of raw markdown for the quality bench's outside baselines.

Deliberately simple and independent of Thoth's parser and chunker: the raw file is cut into
sections at headings (outside code fences); each section's blocks (paragraphs, lists,
tables, whole code fences, separated by blank lines) are packed greedily into chunks of at
most TARGET_CHARS characters; a block longer than that is cut at line ends, and a line
longer than that at spaces. Every chunk's text is its heading path ("Title > H2 > H3", the
frontmatter title first when the file has one) followed by a blank line and the raw body.
Frontmatter stays in the first section's body, as stored. Same input, same chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

TARGET_CHARS = 900

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TITLE = re.compile(r"^title:\s*(.+?)\s*$")


@dataclass(frozen=True)
class RawChunk:
    path: str
    heading: str  # "Title > H2 > H3", empty when the file has neither title nor heading
    body: str

    @property
    def text(self) -> str:
        return f"{self.heading}\n\n{self.body}" if self.heading else self.body


def _title(lines: list[str]) -> str:
    """The frontmatter's `title:` value, unquoted, when the file opens with frontmatter."""
    if not lines or lines[0].strip() != "---":
        return ""
    for line in lines[1:]:
        if line.strip() == "---":
            return ""
        match = _TITLE.match(line)
        if match:
            return match.group(1).strip("\"'")
    return ""


def sections(text: str) -> Iterator[tuple[list[str], list[str]]]:
    """(heading path, body lines) for each section; headings inside code fences are text."""
    lines = text.splitlines()
    title = _title(lines)
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            body.append(line)
            continue
        yield _path(title, stack), body
        level = len(match.group(1))
        stack = [(lvl, name) for lvl, name in stack if lvl < level] + [(level, match.group(2))]
        body = []
    yield _path(title, stack), body


def _path(title: str, stack: list[tuple[int, str]]) -> list[str]:
    names = [name for _, name in stack]
    return [title, *names] if title and (not names or names[0] != title) else names


def blocks(lines: list[str]) -> Iterator[str]:
    """Blank-line separated blocks; a code fence is one block whatever it holds."""
    block: list[str] = []
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        if not line.strip() and not in_fence:
            if block:
                yield "\n".join(block)
            block = []
        else:
            block.append(line)
    if block:
        yield "\n".join(block)


def _pieces(block: str, limit: int) -> Iterator[str]:
    """`block` as-is when it fits, else cut at line ends, then at spaces."""
    if len(block) <= limit:
        yield block
        return
    for line in block.split("\n"):
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            yield line[:cut]
            line = line[cut:].lstrip()
        if line.strip():
            yield line


def chunk_markdown(path: str, text: str, target: int = TARGET_CHARS) -> list[RawChunk]:
    chunks: list[RawChunk] = []
    for heading_path, lines in sections(text):
        heading = " > ".join(heading_path)
        current = ""
        for block in blocks(lines):
            for piece in _pieces(block, target):
                if current and len(current) + 2 + len(piece) > target:
                    chunks.append(RawChunk(path, heading, current))
                    current = ""
                current = f"{current}\n\n{piece}" if current else piece
        if current:
            chunks.append(RawChunk(path, heading, current))
    return chunks
