"""Markdown (and MDX) parsed with markdown-it-py into heading-scoped blocks.

Frontmatter becomes metadata (broken YAML: metadata={} and the body kept); its `description`,
the page's summary in the author's words, is also the first text block, so it is searched and
returned like the page's own text. Hugo shortcodes
are removed but the text between them kept; HTML fragments are reduced to their text. Each
top-level paragraph, list or quote is one "text" block; every code fence is one "code"
block and every table one "table" block, wherever they are nested.

markdown-it-py tries every `[` as a link label and scans ahead for its `]`, through up to
maxNesting levels: ~200 µs per `[` that never closes (2 MB of `[` took 94-200 s), against
~30 µs per link that does. A document with more `[` than any honest page fails before
parsing, with the reason; other slow marks (`*`, `<`: ~30 µs each) are left to the parse
budget's deadline.
"""

from __future__ import annotations

import html
import re
import threading
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from thoth.parsing.decode import decode_text
from thoth.parsing.document import Block, BlockKind, ParsedDocument, ParseError, title_from_path
from thoth.parsing.front_matter import split_frontmatter
from thoth.parsing.html import fragment_text
from thoth.parsing.sections import SectionBuilder
from thoth.parsing.tables import render_table

# Enough for 50 nested lists; beyond it markdown-it stops descending, which bounds recursion.
_MAX_NESTING = 120
# Bounded and brace-free, so an unclosed `{{<` cannot make the scan quadratic.
_SHORTCODE = re.compile(r"\{\{[<%][^{}]{0,2000}?[>%]\}\}")
# an <img>'s alt attribute, its value in double, single or no quotes
_IMG_ALT = re.compile(r"""\salt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE)
_MAX_BRACKETS = 50_000  # ~10 s if none closes; the largest page of the corpora has 334

# markdown-it-py parsers keep per-parse state: sharing one between the worker's threads made
# concurrent batches fail ("none of the block rules matched"). One parser per thread.
_local = threading.local()


def _parser() -> MarkdownIt:
    parser: MarkdownIt | None = getattr(_local, "parser", None)
    if parser is None:
        parser = MarkdownIt("commonmark", {"html": True, "maxNesting": _MAX_NESTING})
        parser.enable(["table", "strikethrough"])
        _local.parser = parser
    return parser


def parse_markdown(path: str, data: bytes) -> ParsedDocument:
    metadata, body = split_frontmatter(decode_text(data))
    _check_brackets(body)
    walker = _Walker()
    walker.walk(_parser().parse(body))
    return ParsedDocument(
        path=path,
        title=_title(metadata) or walker.builder.first_h1 or title_from_path(path),
        metadata=metadata,
        blocks=_description(metadata) + walker.builder.blocks,
    )


def _description(metadata: dict[str, Any]) -> list[Block]:
    description = metadata.get("description")
    text = _clean(description) if isinstance(description, str) else ""
    return [Block(heading_path=(), text=text)] if text else []


def _check_brackets(body: str) -> None:
    brackets = body.count("[")
    if brackets > _MAX_BRACKETS:
        raise ParseError(
            f"markdown has {brackets:,} `[`, over {_MAX_BRACKETS:,} (too slow to parse as links)"
        )


def _title(metadata: dict[str, Any]) -> str:
    title = metadata.get("title")
    return _clean(title) if isinstance(title, str) else ""


def _clean(text: str) -> str:
    return _SHORTCODE.sub("", text).strip()


class _Walker:
    """Walks markdown-it's flat token stream, tracking list nesting for readable items."""

    def __init__(self) -> None:
        self.builder = SectionBuilder()
        self._lines: list[str] = []
        self._lists: list[int | None] = []  # next number of each open ordered list
        self._marker = ""
        self._figure = ""  # alt text of the last block when it was a lone image, else ""

    def walk(self, tokens: list[Token]) -> None:
        index = 0
        while index < len(tokens):
            index = self._visit(tokens, index)
        self._flush()

    def _visit(self, tokens: list[Token], index: int) -> int:
        """Handle tokens[index]; return the index of the next token to visit."""
        token = tokens[index]
        kind = token.type
        if kind == "heading_open":
            self._flush()
            text = _clean(_inline_text(tokens[index + 1]))
            figure = self._figure_of(text)
            self.builder.heading(int(token.tag[1]), text)
            if figure is not None:
                self.builder.add(figure.kind, figure.text)
            return index + 3
        if kind == "table_open":
            end = _closing(tokens, index)
            self._add_block("table", render_table(_table_rows(tokens[index:end])))
            return end + 1
        if kind in ("fence", "code_block"):
            self._add_block("code", token.content.rstrip("\n"))
        elif kind == "inline":
            self._add_line(_clean(_inline_text(token)))
            if token.level == 1 and _lone_image(token):  # a paragraph of its own, image only
                self._figure = _clean(_inline_text(token))
        elif kind == "html_block":
            self._add_line(_clean(fragment_text(token.content)))
        else:
            self._structure(token)
        if token.level == 0 and token.nesting <= 0:  # a top-level block just ended
            self._flush()
        return index + 1

    def _figure_of(self, heading: str) -> Block | None:
        """A lone image just before a heading of the same text is that section's figure too
        ("![Approved WFH Equipment List](...)" above "## Approved WFH Equipment List"): it
        stays where it is and opens the heading's section as well."""
        blocks, figure, self._figure = self.builder.blocks, self._figure, ""
        if not figure or not blocks or blocks[-1].text != figure:
            return None
        if _words(figure) != _words(heading):
            return None
        return blocks[-1]

    def _structure(self, token: Token) -> None:
        kind = token.type
        if kind == "bullet_list_open":
            self._lists.append(None)
        elif kind == "ordered_list_open":
            start = token.attrGet("start")
            self._lists.append(int(start) if isinstance(start, int | str) else 1)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self._lists.pop()
        elif kind == "list_item_open":
            self._marker = self._next_marker()

    def _next_marker(self) -> str:
        number = self._lists[-1]
        if number is None:
            return "- "
        self._lists[-1] = number + 1
        return f"{number}. "

    def _add_line(self, text: str) -> None:
        if not text:
            return
        if self._lists:
            indent = "  " * (len(self._lists) - 1)
            text = indent + (self._marker or "  ") + text.replace("\n", "\n" + indent + "  ")
            self._marker = ""
        self._lines.append(text)

    def _add_block(self, kind: BlockKind, text: str) -> None:
        self._flush()
        self._figure = ""
        self.builder.add(kind, text)

    def _flush(self) -> None:
        self.builder.add("text", "\n".join(self._lines))
        self._lines.clear()


def _lone_image(token: Token) -> bool:
    children = token.children or []
    images = [c for c in children if c.type == "image"]
    rest = [c for c in children if c.type != "image" and (c.type != "text" or c.content.strip())]
    return len(images) == 1 and not [c for c in rest if c.type != "softbreak"]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(_inline_text(child))
        elif child.type == "html_inline" and child.content[:4].lower() == "<img":
            # One tag per token, and only an image's alt text is text: read by a pattern (an
            # HTML parse per tag cost ~340 µs)
            alt = _IMG_ALT.search(child.content)
            if alt:
                parts.append(html.unescape(next(g for g in alt.groups() if g is not None)))
    return "".join(parts).strip()


def _closing(tokens: list[Token], index: int) -> int:
    depth = 0
    for end in range(index, len(tokens)):
        depth += tokens[end].nesting
        if depth == 0:
            return end
    return len(tokens) - 1


def _table_rows(tokens: list[Token]) -> list[list[str]]:
    rows: list[list[str]] = []
    for token in tokens:
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline" and rows:
            rows[-1].append(_clean(_inline_text(token)))
    return rows
