"""Word documents with python-docx: "Heading N" / "Title" styles (and styles based on them,
and outline levels) open sections, tables become table blocks, list-styled paragraphs become
"- " items.

Text is read from the XML in document order rather than through python-docx's paragraph and
cell text, which see only direct runs: content controls, tracked insertions, fields, smart
tags, text boxes, nested tables and image alt text would be lost. Deleted (tracked) text is
left out. Footnotes and endnotes close the document, each under a heading of its own.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docx
from docx.document import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import qn
from docx.oxml.table import CT_Tbl
from docx.oxml.text.paragraph import CT_P
from docx.oxml.text.run import CT_R
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.styles.style import BaseStyle, CharacterStyle
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree  # type: ignore[import-untyped]

from thoth.parsing.document import ParsedDocument, ParseError, title_from_path
from thoth.parsing.metadata import json_safe
from thoth.parsing.sections import SectionBuilder
from thoth.parsing.tables import render_table

# A .docx is a zip; these are checked in its directory before anything is inflated (zipfile
# never inflates a member past its declared size). A 300-page manual's document.xml is ~10 MB
# and inflates 5-15x; a 150 KB bomb inflating to 50 MB took 110 s and 1 GB to parse.
_MAX_INFLATED_BYTES = 64_000_000
_MAX_PART_BYTES = 32_000_000
_MAX_RATIO = 100
_RATIO_FROM_BYTES = 1_000_000  # small parts (styles, settings) may compress very well
_HEADING_STYLE = re.compile(r"^Heading (\d)$")
_MAX_STYLE_DEPTH = 20  # base_style chains are short; a broken file may make one a cycle
_CORE_FIELDS = ("title", "author", "subject", "keywords", "category", "created", "modified")
_NOTES = ((RT.FOOTNOTES, "Footnotes"), (RT.ENDNOTES, "Endnotes"))
_TEXT_BOX = qn("w:txbxContent")
_SDT = qn("w:sdt")
_DOC_PR = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}docPr"
# Deleted and moved-away revisions are not the document's text; an mc:Fallback repeats its
# mc:Choice (a text box as VML after the same box as DrawingML).
_SKIPPED = frozenset(
    {
        qn("w:del"),
        qn("w:moveFrom"),
        qn("w:rt"),  # a ruby's reading aid (furigana) would be glued to the word it reads
        "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback",
    }
)


@dataclass(frozen=True)
class _Para:
    element: CT_P
    text: str


def parse_docx(path: str, data: bytes) -> ParsedDocument:
    try:
        _check_zip(data)
        document = docx.Document(io.BytesIO(data))
        walker = _Walker(document)
        walker.story(document.element.body)
        first_h1 = walker.builder.first_h1  # "Footnotes" is not the document's first heading
        walker.notes()
        metadata = _metadata(document.core_properties)
    except ParseError:
        raise
    except Exception as error:  # zipfile, lxml and python-docx each raise their own types
        raise ParseError(f"unreadable DOCX ({type(error).__name__})") from None
    title = metadata.get("title")
    core_title = title if isinstance(title, str) and title.strip() else ""
    return ParsedDocument(
        path=path,
        title=first_h1 or core_title or title_from_path(path),
        metadata=metadata,
        blocks=walker.builder.blocks,
    )


def _check_zip(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = archive.infolist()
    total = sum(info.file_size for info in parts)
    if total > _MAX_INFLATED_BYTES:
        raise ParseError(f"DOCX inflates to {_mb(total)}, over {_mb(_MAX_INFLATED_BYTES)}")
    for info in parts:
        if info.file_size > _MAX_PART_BYTES:
            raise ParseError(
                f"DOCX part {info.filename[:100]} inflates to {_mb(info.file_size)}, "
                f"over {_mb(_MAX_PART_BYTES)}"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FROM_BYTES and ratio > _MAX_RATIO:
            raise ParseError(
                f"DOCX part {info.filename[:100]} inflates {ratio:.0f}x, over {_MAX_RATIO}x"
            )


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _blocks(container: BaseOxmlElement) -> Iterator[_Para | CT_Tbl]:
    """The paragraphs and tables of a story (body, cell, content control, text box, note) in
    document order; a paragraph's text boxes follow it as paragraphs of their own."""
    for child in container.iterchildren():
        if isinstance(child, CT_P):
            text, boxes = _inline(child)
            yield _Para(child, text)
            for box in boxes:
                yield from _blocks(box)
        elif isinstance(child, CT_Tbl):
            yield child
        elif child.tag == qn("w:sdt") and _read(child):
            yield from _blocks_of(child.find(qn("w:sdtContent")))
        elif child.tag == qn("w:customXml"):
            yield from _blocks(child)


def _read(sdt: BaseOxmlElement) -> bool:
    """Whether a content control's content is the document's text: not a generated table of
    contents (each heading again, with page numbers) nor an empty field's placeholder prompt
    ("Click or tap here to enter text.")."""
    properties = sdt.find(qn("w:sdtPr"))
    if properties is None:
        return True
    if properties.find(qn("w:showingPlcHdr")) is not None:
        return False
    gallery = properties.find(f"{qn('w:docPartObj')}/{qn('w:docPartGallery')}")
    name = gallery.get(qn("w:val"), "") if gallery is not None else ""
    return not name.startswith("Table of Contents")


def _blocks_of(container: BaseOxmlElement | None) -> Iterator[_Para | CT_Tbl]:
    return _blocks(container) if container is not None else iter(())


def _inline(paragraph: CT_P) -> tuple[str, list[BaseOxmlElement]]:
    """A paragraph's text, from every run however wrapped (content controls, insertions,
    fields, hyperlinks, smart tags), image alt text inline; and its text boxes."""
    parts: list[str] = []
    boxes: list[BaseOxmlElement] = []
    walk = etree.iterwalk(paragraph, events=("start",))
    for _, element in walk:
        if element.tag == _TEXT_BOX:
            boxes.append(element)
            walk.skip_subtree()
        elif element.tag in _SKIPPED or (element.tag == _SDT and not _read(element)):
            walk.skip_subtree()
        elif isinstance(element, CT_R):
            parts.append(element.text)
        elif element.tag == _DOC_PR and element.get("descr", "").strip():
            parts.append(f" {element.get('descr').strip()} ")
    return "".join(parts), boxes


class _Walker:
    def __init__(self, document: Document) -> None:
        self.builder = SectionBuilder()
        self._document = document
        # python-docx scans every style for the default on each lookup: most of a long
        # document's parse when done per paragraph.
        self._styles: dict[str | None, tuple[int | None, str]] = {}

    def story(self, story: BaseOxmlElement) -> None:
        for item in _blocks(story):
            if isinstance(item, _Para):
                self._paragraph(Paragraph(item.element, self._document), item.text.strip())
            else:
                rows = _table_rows(Table(item, self._document))
                self.builder.add("table", render_table(rows))

    def _paragraph(self, paragraph: Paragraph, text: str) -> None:
        own_level = _outline_level(paragraph._p)
        style_level, style = self._style(paragraph)
        level = own_level if own_level is not None else style_level
        if level:
            self.builder.heading(level, " ".join(text.split()))
        elif style.startswith("List"):
            self.builder.add("text", "- " + text if text else "")
        else:
            self.builder.add("text", text)

    def _style(self, paragraph: Paragraph) -> tuple[int | None, str]:
        """The heading level its style chain gives the paragraph, and its style's name."""
        key = paragraph._p.style
        if key not in self._styles:
            style = paragraph.style
            name = style.name or "" if style is not None else ""
            self._styles[key] = (_heading_level(style), name)
        return self._styles[key]

    def notes(self) -> None:
        for reltype, heading in _NOTES:
            try:
                part = self._document.part.part_related_by(reltype)
            except KeyError:
                continue
            notes = [
                note
                for note in parse_xml(part.blob)
                if note.get(qn("w:type"), "normal") == "normal"  # not the separator lines
            ]
            if notes:
                self.builder.heading(1, heading)
            for note in notes:
                self.story(note)


def _heading_level(style: CharacterStyle | None) -> int | None:
    """The first level of the style's chain (itself, then its base styles): a "Title" or
    "Heading N" name, or an outline level (9 is body text)."""
    for _ in range(_MAX_STYLE_DEPTH):
        if style is None:
            return None
        level = _style_level(style)
        if level is not None:
            return level
        style = style.base_style
    return None


def _style_level(style: BaseStyle) -> int | None:
    if style.name == "Title":
        return 1
    match = _HEADING_STYLE.match(style.name or "")
    return int(match.group(1)) if match else _outline_level(style.element)


def _outline_level(element: BaseOxmlElement) -> int | None:
    values = element.xpath("./w:pPr/w:outlineLvl/@w:val")
    value = str(values[0]) if values else ""
    if not value.isdigit() or int(value) > 9:
        return None
    return int(value) + 1 if int(value) < 9 else 0


def _table_rows(table: Table) -> list[list[str]]:
    """Each row's cells, then the rows of the tables nested in its cells."""
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        nested: list[CT_Tbl] = []
        previous: object = None
        for cell in row.cells:
            if cell._tc is not previous:  # a merged cell is returned once per grid column
                text, inner = _cell_content(cell._tc)
                cells.append(text)
                if cell._tc.getparent() is row._tr:  # not a vertical merge's repeat
                    nested.extend(inner)
            previous = cell._tc
        rows.append(cells)
        for tbl in nested:
            rows.extend(_table_rows(Table(tbl, table)))
    return rows


def _cell_content(cell: BaseOxmlElement) -> tuple[str, list[CT_Tbl]]:
    lines: list[str] = []
    tables: list[CT_Tbl] = []
    for item in _blocks(cell):
        if isinstance(item, _Para):
            lines.append(item.text)
        else:
            tables.append(item)
    return "\n".join(lines), tables


def _metadata(core: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for field in _CORE_FIELDS:
        value = getattr(core, field, None)
        if value not in (None, ""):
            metadata[field] = value
    return json_safe(metadata)
