"""Chunks sized in the embedding model's own tokens (design.md §4).

Small adjacent blocks of a section are packed together; with `pack_below` > 0, a chunk of
fewer tokens than that also takes in the whole sections that follow it while they fit, each
after its markdown heading line (the chunk keeps the first section's heading and anchor).
Otherwise a chunk never spans two heading sections. A block too big for one chunk is split:
- text at paragraph, then line, then sentence, then word, then character boundaries, with
  about `overlap_tokens` of the previous piece repeated at the start of the next;
- a code block at line boundaries (then words, then characters for giant lines);
- a table by rows, its header row repeated at the top of every piece.
Token counts are taken once per piece and summed; each final `embed_text` is then counted
exactly, and the rare chunk over the limit is split again with a tighter budget.

Chunks are bounded in characters too (`max_chars`): WordPiece turns a word of any length into
one [UNK] token, so tokens alone would let a 9 MB "word" become one chunk. A piece longer than
`max_chars` is split without being counted, so the tokenizer never sees more than `max_chars`
of one text at a time (tokenizing a 9 MB paragraph whole took ~2 GiB).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Protocol

from thoth.parsing.document import Block, ParsedDocument, heading_lines

# The version of the code that turns a file into chunks (its parser and this chunker). Bump
# it when a change gives some file other chunks: snapshots record it, and a job re-cuts every
# file of a snapshot cut by other code instead of carrying its old chunks over.
# 2: a lone image above a heading of the same words also opens that heading's section.
# 3: a frontmatter `description` is the first text block of its page.
# 4: image alt text in HTML (and HTML inside markdown), DOCX text in content controls,
#    revisions, fields and text boxes, PDF pages read one by one (the parsers' fidelity fixes).
# 5: HTML without site chrome, hidden text, permalink glyphs and code line numbers; soft
#    hyphens and zero-width spaces dropped from every format.
# 6: a PDF's bookmarks name the sections of their pages ("Benefits > Page 2").
CHUNKS_VERSION = 6
_MIN_MAX_TOKENS = 16
_MAX_RESPLITS = 8
DEFAULT_MAX_CHARS = 4000  # ~3x an English chunk of 256 word pieces: honest text never hits it
_TOO_BIG = 1 << 40  # the token count given to a text too long to be counted at all


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    path: str
    title: str
    heading: str
    text: str
    embed_text: str
    ordinal: int
    token_count: int
    anchor: str = ""  # the heading's anchor in the rendered page (thoth.parsing.anchors)


class TokenCounter(Protocol):
    def count(self, text: str) -> int: ...  # includes special tokens

    def count_many(self, texts: Sequence[str]) -> list[int]: ...


@dataclass(frozen=True)
class _Level:
    pattern: re.Pattern[str]
    joiner: str


_PARAGRAPHS = _Level(re.compile(r"\n[ \t]*\n\s*"), "\n\n")
_LINES = _Level(re.compile(r"\n"), "\n")
_SENTENCES = _Level(re.compile(r"(?<=[.!?。！？])\s+"), " ")
_WORDS = _Level(re.compile(r"\s+"), " ")
_TEXT_LEVELS = (_PARAGRAPHS, _LINES, _SENTENCES, _WORDS)
_CODE_LEVELS = (_LINES, _WORDS)


@dataclass(frozen=True)
class _Piece:
    text: str
    tokens: int  # content tokens, special tokens excluded
    sep: str  # goes between this piece and the one before it when both share a chunk


@dataclass(frozen=True)
class _Draft:
    heading: str
    prefix: str
    body: str
    budget: int
    anchor: str


def chunk_document(
    doc: ParsedDocument,
    source: str,
    counter: TokenCounter,
    max_tokens: int,
    overlap_tokens: int = 32,
    max_chars: int = DEFAULT_MAX_CHARS,
    pack_below: int = 0,
) -> list[Chunk]:
    """Split a parsed document into chunks whose embed_text fits `max_tokens` and whose text
    is at most `max_chars` long; `pack_below`: see the module docstring."""
    if max_tokens < _MIN_MAX_TOKENS:
        raise ValueError(f"max_tokens must be at least {_MIN_MAX_TOKENS}")
    if max_chars < _MIN_MAX_TOKENS:
        raise ValueError(f"max_chars must be at least {_MIN_MAX_TOKENS}")
    sizer = _Sizer(counter, max_chars)
    blocks = [block for block in doc.blocks if block.text.strip()]
    counted = zip(blocks, sizer.content_many([block.text for block in blocks]), strict=True)
    sections = [
        (path, _clip_heading(" > ".join(path), max_chars), anchor, list(section))
        for (path, anchor), section in groupby(
            counted, key=lambda pair: (pair[0].heading_path, pair[0].anchor)
        )
    ]
    title = doc.title[: max_chars // 4]
    prefixes = _fit_prefixes(title, [heading for _, heading, _, _ in sections], counter, max_tokens)
    drafted: list[tuple[tuple[str, ...], list[_Draft]]] = []
    for (path, heading, anchor, section), (prefix, prefix_tokens) in zip(
        sections, prefixes, strict=True
    ):
        budget = max_tokens - prefix_tokens
        bodies = _Splitter(sizer, budget, overlap_tokens).section(section)
        drafted.append((path, [_Draft(heading, prefix, body, budget, anchor) for body in bodies]))
    drafts = _pack_sections(drafted, sizer, pack_below) if pack_below > 0 else _flat(drafted)
    fitted = _fit(drafts, sizer, max_tokens, overlap_tokens, _MAX_RESPLITS)
    return _chunks(doc, source, fitted)


def _flat(drafted: Sequence[tuple[tuple[str, ...], list[_Draft]]]) -> list[_Draft]:
    return [draft for _, drafts in drafted for draft in drafts]


def _pack_sections(
    drafted: Sequence[tuple[tuple[str, ...], list[_Draft]]], sizer: _Sizer, pack_below: int
) -> list[_Draft]:
    """Join each whole one-chunk section, after its heading lines, to the chunk before it
    while that chunk is under `pack_below` tokens and the joined body fits its budget."""
    joined = [
        "\n\n".join([*heading_lines(before, path), drafts[0].body])
        for (before, _), (path, drafts) in itertools.pairwise([((), []), *drafted])
    ]
    joined_tokens = sizer.content_many(joined)
    body_tokens = sizer.content_many([drafts[-1].body for _, drafts in drafted])
    out: list[_Draft] = []
    tokens = 0  # of out[-1]'s body
    for (_, drafts), text, extra, own in zip(
        drafted, joined, joined_tokens, body_tokens, strict=True
    ):
        last = out[-1] if out else None
        if (
            last is not None
            and len(drafts) == 1
            and tokens < pack_below
            and tokens + extra <= last.budget
            and len(last.body) + 2 + len(text) <= sizer.max_chars
        ):
            out[-1] = replace(last, body=f"{last.body}\n\n{text}")
            tokens += extra
            continue
        out.extend(drafts)
        tokens = own
    return out


class _Sizer:
    """Token counts without the special tokens, so the counts of pieces can be summed.
    A text longer than `max_chars` is not counted: it is `_TOO_BIG`, so it gets split."""

    def __init__(self, counter: TokenCounter, max_chars: int) -> None:
        self.counter = counter
        self.max_chars = max_chars
        self.specials = counter.count("")

    def narrower(self, max_chars: int) -> _Sizer:
        narrow = copy.copy(self)
        narrow.max_chars = max_chars
        return narrow

    def content_many(self, texts: Sequence[str]) -> list[int]:
        short = [text for text in texts if len(text) <= self.max_chars]
        counts = iter(self.counter.count_many(short) if short else [])
        return [
            next(counts) - self.specials if len(text) <= self.max_chars else _TOO_BIG
            for text in texts
        ]


def _clip_heading(heading: str, max_chars: int) -> str:
    """The deepest end of a heading path, at most a quarter of a chunk's characters."""
    limit = max_chars // 4
    return heading if len(heading) <= limit else heading[len(heading) - limit :]


def _prefix(title: str, heading: str) -> str:
    return f"{title}\n{heading}\n\n" if heading else f"{title}\n\n"


def _fit_prefixes(
    title: str, headings: Sequence[str], counter: TokenCounter, max_tokens: int
) -> list[tuple[str, int]]:
    """(prefix, its token count) per section; a prefix may use at most half the budget."""
    prefixes = [_prefix(title, heading) for heading in headings]
    counts = counter.count_many(prefixes) if prefixes else []
    return [
        (prefix, count)
        if count <= max_tokens // 2
        else _shorten(title, heading, counter, max_tokens // 2)
        for prefix, count, heading in zip(prefixes, counts, headings, strict=True)
    ]


def _shorten(title: str, heading: str, counter: TokenCounter, limit: int) -> tuple[str, int]:
    """Halve title and heading until they fit, keeping the deepest headings."""
    title_chars, heading_chars = len(title) // 2, len(heading) // 2
    while True:
        prefix = _prefix(title[:title_chars], heading[len(heading) - heading_chars :])
        count = counter.count(prefix)
        if count <= limit or title_chars + heading_chars == 0:
            return prefix, count
        title_chars, heading_chars = title_chars // 2, heading_chars // 2


class _Splitter:
    def __init__(self, sizer: _Sizer, budget: int, overlap: int) -> None:
        self.sizer = sizer
        self.budget = budget
        self.overlap = overlap

    def section(self, blocks: Sequence[tuple[Block, int]]) -> list[str]:
        pieces: list[_Piece] = []
        for block, tokens in blocks:
            if tokens <= self.budget:
                pieces.append(_Piece(block.text, tokens, "\n\n"))
            else:
                pieces.extend(self.split_block(block))
        return [piece.text for piece in self._pack(pieces, overlap=0)]

    def split_block(self, block: Block) -> list[_Piece]:
        if block.kind == "table":
            return self._split_table(block.text)
        if block.kind == "code":
            return self._pack(self._atoms(block.text, _CODE_LEVELS, self.budget), 0)
        atoms = self._atoms(block.text, _TEXT_LEVELS, self.budget)
        return self._pack(atoms, self.overlap)

    def _split_table(self, text: str) -> list[_Piece]:
        header, _, rows = text.partition("\n")
        [header_tokens] = self.sizer.content_many([header])
        budget = self.budget - header_tokens
        room = self.sizer.max_chars - len(header) - 1
        if not rows or budget < self.budget // 2 or room < self.sizer.max_chars // 2:
            return self._pack(self._atoms(text, _CODE_LEVELS, self.budget), 0)
        rows_splitter = _Splitter(self.sizer.narrower(room), budget, 0)
        pieces = rows_splitter._pack(rows_splitter._atoms(rows, _CODE_LEVELS, budget), 0)
        return [_Piece(f"{header}\n{p.text}", header_tokens + p.tokens, "\n\n") for p in pieces]

    def _pack(self, pieces: Sequence[_Piece], overlap: int) -> list[_Piece]:
        return _pack(pieces, self.budget, self.sizer.max_chars, overlap)

    def _atoms(
        self, text: str, levels: Sequence[_Level], budget: int, sep: str = "\n\n"
    ) -> list[_Piece]:
        """Pieces of `text`, each within `budget`, split at the coarsest level that works."""
        if not levels:
            return self._characters(text, budget, sep, max(1, min(budget, self.sizer.max_chars)))
        level, finer = levels[0], levels[1:]
        parts = [part for part in level.pattern.split(text) if part]
        if len(parts) <= 1:  # this level does not split it: no need to count it again
            return self._atoms(text, finer, budget, sep)
        atoms: list[_Piece] = []
        for index, (part, tokens) in enumerate(
            zip(parts, self.sizer.content_many(parts), strict=True)
        ):
            part_sep = sep if index == 0 else level.joiner
            if tokens <= budget:
                atoms.append(_Piece(part, tokens, part_sep))
            else:
                atoms.extend(self._atoms(part, finer, budget, part_sep))
        return atoms

    def _characters(self, text: str, budget: int, sep: str, size: int) -> list[_Piece]:
        # Word pieces are at least one character, so `budget` characters usually fit;
        # windows that still do not are halved.
        windows = [text[start : start + size] for start in range(0, len(text), size)]
        atoms: list[_Piece] = []
        for index, (window, tokens) in enumerate(
            zip(windows, self.sizer.content_many(windows), strict=True)
        ):
            window_sep = sep if index == 0 else ""
            if tokens <= budget or len(window) == 1:
                atoms.append(_Piece(window, tokens, window_sep))
            else:
                atoms.extend(self._characters(window, budget, window_sep, len(window) // 2))
        return atoms


def _pack(pieces: Sequence[_Piece], budget: int, max_chars: int, overlap: int) -> list[_Piece]:
    """Greedily join consecutive pieces while their token sum stays within budget and their
    joined text within max_chars."""
    packed: list[_Piece] = []
    current: list[_Piece] = []
    total = chars = 0
    for piece in pieces:
        if current and (
            total + piece.tokens > budget or chars + len(piece.sep) + len(piece.text) > max_chars
        ):
            packed.append(_join(current))
            room = max_chars - len(piece.sep) - len(piece.text)
            current = _tail(current, min(overlap, budget - piece.tokens), room)
            total = sum(p.tokens for p in current)
            chars = len(_join(current).text) if current else 0
        chars += (len(piece.sep) if current else 0) + len(piece.text)
        current.append(piece)
        total += piece.tokens
    if current:
        packed.append(_join(current))
    return packed


def _tail(pieces: Sequence[_Piece], limit: int, room: int) -> list[_Piece]:
    """The last pieces (never all of them) whose tokens fit `limit` and characters `room`:
    the overlap."""
    tail: list[_Piece] = []
    total = chars = 0
    for piece in reversed(pieces[1:]):
        chars += len(piece.text) + len(piece.sep)
        if total + piece.tokens > limit or chars > room:
            break
        tail.append(piece)
        total += piece.tokens
    return tail[::-1]


def _join(pieces: Sequence[_Piece]) -> _Piece:
    text = pieces[0].text + "".join(piece.sep + piece.text for piece in pieces[1:])
    return _Piece(text, sum(piece.tokens for piece in pieces), pieces[0].sep)


def _fit(
    drafts: Sequence[_Draft], sizer: _Sizer, max_tokens: int, overlap: int, retries: int
) -> list[tuple[_Draft, int]]:
    """Count every embed_text exactly; split again the rare draft that summed counts missed."""
    counts = sizer.counter.count_many([draft.prefix + draft.body for draft in drafts])
    fitted: list[tuple[_Draft, int]] = []
    for draft, count in zip(drafts, counts, strict=True):
        if count <= max_tokens:
            fitted.append((draft, count))
            continue
        if retries == 0:
            raise RuntimeError(f"cannot fit a chunk in {max_tokens} tokens")
        # Shrink by the excess, and by at least a quarter so retries always converge.
        budget = max(1, min(draft.budget - (count - max_tokens), draft.budget * 3 // 4))
        splitter = _Splitter(sizer, budget, overlap)  # keeps sizer.max_chars
        bodies = [piece.text for piece in splitter.split_block(Block((), draft.body))]
        smaller = [
            _Draft(draft.heading, draft.prefix, body, budget, draft.anchor) for body in bodies
        ]
        fitted.extend(_fit(smaller, sizer, max_tokens, overlap, retries - 1))
    return fitted


def _chunks(doc: ParsedDocument, source: str, fitted: Sequence[tuple[_Draft, int]]) -> list[Chunk]:
    seen: dict[tuple[str, str], int] = {}
    chunks: list[Chunk] = []
    for ordinal, (draft, tokens) in enumerate(fitted):
        occurrence = seen.get((draft.heading, draft.body), 0)
        seen[(draft.heading, draft.body)] = occurrence + 1
        chunks.append(
            Chunk(
                chunk_id=chunk_id(source, doc.path, draft.heading, draft.body, occurrence),
                path=doc.path,
                title=doc.title,
                heading=draft.heading,
                text=draft.body,
                embed_text=draft.prefix + draft.body,
                ordinal=ordinal,
                token_count=tokens,
                anchor=draft.anchor,
            )
        )
    return chunks


def chunk_id(source: str, path: str, heading: str, text: str, occurrence: int) -> str:
    """Stable id: the same passage at the same place always gets the same id."""
    key = json.dumps([source, path, heading, text, occurrence], ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()[:32]
