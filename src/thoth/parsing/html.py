"""HTML pages (and HTML fragments inside markdown) reduced to heading-scoped text blocks."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import Any

from bs4 import BeautifulSoup
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

from thoth.parsing.decode import check_text, decode_text
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
# A site's navigation, search box and page footer repeat on every page; text hidden from the
# reader is not the page's content (an inactive tab is: a tab panel stays however hidden).
_CHROME = (
    "nav, footer, [role=navigation], [role=search], [role=contentinfo], "
    "[hidden]:not([role=tabpanel]), [aria-hidden=true]:not([role=tabpanel]), "
    "dialog:not([open]), annotation"
)
_INVISIBLE_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# Permalink anchors that site generators put inside headings (Sphinx, Docusaurus, MkDocs,
# VitePress, anchor.js) and the line numbers of highlighted code (Pygments, Chroma).
_PERMALINKS = (
    "a.headerlink, a.hash-link, a.anchor, a.anchorjs-link, a.header-anchor, a.heading-anchor"
)
_LINE_NUMBERS = "td.linenos, span.linenos, div.linenodiv, span.lineno, span.ln, span.lnt"
_CODE_TABLES = "table.highlighttable, table.lntable"
_TRAILING_GLYPH = re.compile(r"\s+[¶#§🔗]$")
# decode_text reads these (UTF-32-LE's mark begins with UTF-16-LE's)
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)


def parse_html(path: str, data: bytes) -> ParsedDocument:
    soup = BeautifulSoup(_markup(data), "lxml")
    _drop_noise(soup)
    _inline_replacements(soup)
    walker = _Walker()
    walker.walk(_content_root(soup))
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
    _inline_replacements(soup)
    return " ".join(soup.get_text(" ").split())


def _markup(data: bytes) -> str:
    """A page as decode_text reads it (UTF-8, or a BOM's encoding), unless it is not valid
    UTF-8 and declares another charset: then in that charset. Valid UTF-8 under another
    declared charset stays UTF-8 (a template's stale <meta> is more common than legacy bytes
    that happen to be valid UTF-8), and nothing is guessed: a UTF-8 page that declares no
    other charset keeps its text with one U+FFFD for a stray byte."""
    declared = _declared_charset(data)
    if declared is None or data.startswith(_BOMS):
        return decode_text(data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return check_text(data.decode(declared, errors="replace"))
    return decode_text(data)


def _declared_charset(data: bytes) -> str | None:
    """The charset a <meta> declares, when Python knows it and it is not UTF-8."""
    name = EncodingDetector.find_declared_encoding(data, is_html=True)
    try:
        codec = codecs.lookup(name).name if name else None
    except LookupError:
        return None
    return codec if codec and codec not in ("utf-8", "utf-8-sig") else None


def _drop_noise(soup: BeautifulSoup) -> None:
    """Remove what is not the page's own text: scripts and the like (also where a heading's,
    table's or code block's text is taken whole), site chrome, hidden elements, permalink
    anchors and code line numbers. A line-numbered code table becomes its code block."""
    for table in soup.select(_CODE_TABLES):
        blocks = table.find_all("pre")
        if blocks:
            table.replace_with(blocks[-1].extract())
    doomed = soup.find_all([name for name in _DROPPED if name != "head"])
    doomed += soup.select(f"{_CHROME}, {_PERMALINKS}, {_LINE_NUMBERS}")
    doomed += [
        tag for tag in soup.find_all(style=_INVISIBLE_STYLE) if tag.get("role") != "tabpanel"
    ]
    for tag in doomed:
        if not tag.decomposed:
            tag.decompose()


def _content_root(soup: BeautifulSoup) -> Tag:
    """The page's main content when it marks it (<main>, role="main", or its one <article>):
    sidebars, banners and other chrome lie outside it. Else the whole body."""
    body = soup.body or soup
    main = body.select_one("main, [role=main]")
    if main is not None:
        return main
    articles = body.find_all("article")
    return articles[0] if len(articles) == 1 else body


def _heading_text(tag: Tag) -> str:
    return _TRAILING_GLYPH.sub("", " ".join(tag.get_text(" ").split()))


def _inline_replacements(soup: BeautifulSoup) -> None:
    """An image's alt text stands for it, as in markdown; a <br> inside <pre>, whose text is
    taken whole, is a line break."""
    for image in soup.find_all("img"):
        alt = image.get("alt")
        image.replace_with(f" {alt.strip()} " if isinstance(alt, str) and alt.strip() else "")
    for br in soup.select("pre br"):
        br.replace_with("\n")


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
            self.builder.heading(_HEADINGS[name], _heading_text(tag))
            return False
        if name == "pre":
            self._end_paragraph()
            self.builder.add("code", tag.get_text().strip("\n"))
            return False
        if name == "table":
            self._end_paragraph()
            caption = tag.find("caption", recursive=False)
            if isinstance(caption, Tag):  # its own block: the table's first line is its header
                self.builder.add("text", " ".join(caption.get_text(" ").split()))
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
    """The table's own rows, each followed by the rows of the tables nested in its cells
    (a nested table's caption a row of its own). Not recursive, as the walk."""
    rows: list[list[str]] = []
    stack: list[Iterator[Tag]] = [iter(_own_rows(table))]
    while stack:
        row = next(stack[-1], None)
        if row is None:
            stack.pop()
            continue
        cells = [row] if row.name == "caption" else row.find_all(["th", "td"], recursive=False)
        nested = [inner.extract() for cell in cells for inner in _outer_tables(cell)]
        rows.append([cell.get_text(" ") for cell in cells])
        stack.extend(iter(_own_rows(inner, caption=True)) for inner in reversed(nested))
    return rows


def _own_rows(table: Tag, caption: bool = False) -> list[Tag]:
    """The rows of this table, not of tables nested in it: its <tr> children and theirs of
    its <thead>, <tbody> and <tfoot> (a search of the whole subtree made nesting quadratic)."""
    rows: list[Tag] = []
    for child in table.find_all(True, recursive=False):
        if child.name == "tr":
            rows.append(child)
        elif child.name in ("thead", "tbody", "tfoot"):
            rows.extend(child.find_all("tr", recursive=False))
    title = table.find("caption", recursive=False) if caption else None
    return [title, *rows] if isinstance(title, Tag) else rows


def _outer_tables(cell: Tag) -> list[Tag]:
    """The tables in a cell that no other table in it holds, in document order; the walk
    does not enter them."""
    found: list[Tag] = []
    stack = [child for child in reversed(cell.contents) if isinstance(child, Tag)]
    while stack:
        node = stack.pop()
        if node.name == "table":
            found.append(node)
        else:
            stack.extend(child for child in reversed(node.contents) if isinstance(child, Tag))
    return found


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
