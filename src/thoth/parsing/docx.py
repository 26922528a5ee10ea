"""Word documents with python-docx: "Heading N" / "Title" styles open sections, tables
become table blocks, list-styled paragraphs become "- " items."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

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
_CORE_FIELDS = ("title", "author", "subject", "keywords", "category", "created", "modified")


def parse_docx(path: str, data: bytes) -> ParsedDocument:
    try:
        _check_zip(data)
        document = docx.Document(io.BytesIO(data))
        builder = SectionBuilder()
        for item in document.iter_inner_content():
            _add(builder, item)
        metadata = _metadata(document.core_properties)
    except ParseError:
        raise
    except Exception as error:  # zipfile, lxml and python-docx each raise their own types
        raise ParseError(f"unreadable DOCX ({type(error).__name__})") from None
    title = metadata.get("title")
    core_title = title if isinstance(title, str) and title.strip() else ""
    return ParsedDocument(
        path=path,
        title=builder.first_h1 or core_title or title_from_path(path),
        metadata=metadata,
        blocks=builder.blocks,
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


def _add(builder: SectionBuilder, item: Paragraph | Table) -> None:
    if isinstance(item, Table):
        builder.add("table", render_table(_table_rows(item)))
        return
    text = item.text.strip()
    style = item.style.name if item.style is not None and item.style.name else ""
    level = 1 if style == "Title" else _heading_level(style)
    if level:
        builder.heading(level, " ".join(text.split()))
    elif style.startswith("List"):
        builder.add("text", "- " + text if text else "")
    else:
        builder.add("text", text)


def _heading_level(style: str) -> int:
    match = _HEADING_STYLE.match(style)
    return int(match.group(1)) if match else 0


def _table_rows(table: Table) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        previous: object = None
        for cell in row.cells:
            if cell._tc is not previous:  # a merged cell is returned once per grid column
                cells.append(cell.text)
            previous = cell._tc
        rows.append(cells)
    return rows


def _metadata(core: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for field in _CORE_FIELDS:
        value = getattr(core, field, None)
        if value not in (None, ""):
            metadata[field] = value
    return json_safe(metadata)
