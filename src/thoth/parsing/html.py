"""HTML pages (and HTML fragments inside markdown) reduced to heading-scoped text blocks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

from thoth.parsing.decode import decode_text
from thoth.parsing.document import ParsedDocument, title_from_path
from thoth.parsing.sections import SectionBuilder
from thoth.parsing.tables import render_table

_DROPPED = frozenset(
    {"script", "style", "noscript", "template", "head", "svg", "iframe", "object", "canvas"}
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li",
        "main", "nav", "ol", "p", "section", "summary", "ul",
    }
)  # fmt: skip
_META_NAMES = ("description", "keywords", "author")


def parse_html(path: str, data: bytes) -> ParsedDocument:
    soup = BeautifulSoup(decode_text(data), "lxml")
    walker = _Walker()
    walker.walk(soup.body or soup)
    builder = walker.builder
    return ParsedDocument(
        path=path,
        title=builder.first_h1 or _title_tag(soup) or title_from_path(path),
        metadata=_metadata(soup),
        blocks=builder.blocks,
    )


def fragment_text(fragment: str) -> str:
    """The visible text of an HTML fragment, script and style dropped."""
    soup = BeautifulSoup(fragment, "html.parser")
    for tag in soup.find_all(list(_DROPPED)):
        tag.decompose()
    return " ".join(soup.get_text(" ").split())


class _Walker:
    """A non-recursive walk (deeply nested pages must not exhaust the stack)."""

    def __init__(self) -> None:
        self.builder = SectionBuilder()
        self._paragraph: list[str] = []

    def walk(self, root: Tag) -> None:
        stack: list[tuple[Tag, Iterator[PageElement]]] = [(root, iter(root.children))]
        while stack:
            tag, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if tag.name in _BLOCKS:
                    self._end_paragraph()
            elif isinstance(child, Tag):
                if self._start(child):
                    stack.append((child, iter(child.children)))
            elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
                self._paragraph.append(str(child))
        self._end_paragraph()

    def _start(self, tag: Tag) -> bool:
        """Handle an opening tag; True when its children should be walked."""
        name = tag.name
        if name in _DROPPED:
            return False
        if name in _HEADINGS:
            self._end_paragraph()
            self.builder.heading(_HEADINGS[name], " ".join(tag.get_text(" ").split()))
            return False
        if name == "pre":
            self._end_paragraph()
            self.builder.add("code", tag.get_text().strip("\n"))
            return False
        if name == "table":
            self._end_paragraph()
            self.builder.add("table", render_table(_table_rows(tag)))
            return False
        if name == "br":
            self._paragraph.append("\n")
        elif name in _BLOCKS:
            self._end_paragraph()
            if name == "li":
                self._paragraph.append("- ")
        return True

    def _end_paragraph(self) -> None:
        lines = ("".join(self._paragraph)).split("\n")
        self._paragraph.clear()
        text = "\n".join(" ".join(line.split()) for line in lines).strip()
        if text not in ("", "-"):
            self.builder.add("text", text)


def _table_rows(table: Tag) -> list[list[str]]:
    return [
        [cell.get_text(" ") for cell in row.find_all(["th", "td"], recursive=False)]
        for row in table.find_all("tr")
    ]


def _title_tag(soup: BeautifulSoup) -> str:
    return " ".join(soup.title.get_text(" ").split()) if soup.title else ""


def _metadata(soup: BeautifulSoup) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for name in _META_NAMES:
        tag = soup.find("meta", attrs={"name": name})
        content = tag.get("content") if isinstance(tag, Tag) else None
        if isinstance(content, str) and content.strip():
            metadata[name] = content.strip()
    return metadata
