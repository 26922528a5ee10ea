"""PDF text extracted page by page with pypdf; each page is a section ("Page N").

A page whose text cannot be extracted is skipped, and unreadable metadata ignored: one bad
part does not lose the rest (every page failing is still a ParseError).

Before any text is extracted, the page count and the inflated size of the pages' content
streams are checked against limits: pypdf extracts text from ~60-100 KB of content stream per
second here, so a 50 KB file whose stream inflates to 16 MB took 167 s and 1.18 GB.
"""

from __future__ import annotations

import io
import logging
import re
import zlib
from collections.abc import Iterator
from typing import Any, TypeGuard

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.generic import ArrayObject, StreamObject

from thoth.parsing.document import Block, ParsedDocument, ParseError, title_from_path
from thoth.parsing.metadata import json_safe

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_METADATA_FIELDS = ("title", "author", "subject", "creator", "producer")
# Titles that writing tools fill in by themselves ("Microsoft Word - draft.docx", a file name).
_JUNK_TITLE = re.compile(
    r"untitled[\s\d-]*|microsoft \w+ - .*|.*\.(docx?|pdf|pptx?|xlsx?|rtf|odt|txt)",
    re.IGNORECASE,
)
_MAX_PAGES = 2000
_MAX_PAGE_CONTENT_BYTES = 1_000_000  # a text page is ~5 KB, a dense vector chart ~500 KB
_MAX_CONTENT_BYTES = 3_000_000  # ~30-50 s of text extraction: beyond the parse budget


def parse_pdf(path: str, data: bytes) -> ParsedDocument:
    try:
        reader = _open(data)
        _check_size(reader)
    except ParseError:
        raise
    except Exception as error:  # pypdf raises many types (PdfReadError, KeyError, ...)
        raise ParseError(f"unreadable PDF ({type(error).__name__})") from None
    pages, unreadable = _page_texts(path, reader)
    metadata = _metadata(path, reader)
    blocks = [
        Block((f"Page {number}",), text, "text")
        for number, raw in enumerate(pages, start=1)
        if (text := _CONTROL.sub("", raw).strip())
    ]
    if pages and not blocks:  # listed as failed with this reason, not indexed as empty
        raise ParseError(
            f"no text on any of its {len(pages):,} pages ({unreadable:,} unreadable; scanned "
            "pages need OCR, which Thoth does not do)"
        )
    title = metadata.get("title")
    return ParsedDocument(
        path=path,
        title=title if _is_title(title) else title_from_path(path),
        metadata=metadata,
        blocks=blocks,
    )


def _open(data: bytes) -> PdfReader:
    reader = PdfReader(io.BytesIO(data))
    # Many PDFs are encrypted with an empty user password only to restrict editing.
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise ParseError("encrypted PDF (password required)")
    return reader


def _check_size(reader: PdfReader) -> None:
    if len(reader.pages) > _MAX_PAGES:
        raise ParseError(f"PDF has {len(reader.pages):,} pages, over {_MAX_PAGES:,}")
    total = 0
    for number, page in enumerate(reader.pages, start=1):
        size = sum(_inflated_size(s, _MAX_PAGE_CONTENT_BYTES) for s in _contents(page))
        if size > _MAX_PAGE_CONTENT_BYTES:
            raise ParseError(
                f"PDF page {number} content stream inflates to over "
                f"{_MAX_PAGE_CONTENT_BYTES / 1e6:g} MB"
            )
        total += size
        if total > _MAX_CONTENT_BYTES:
            raise ParseError(
                f"PDF content streams inflate to over {_MAX_CONTENT_BYTES / 1e6:g} MB "
                f"by page {number}"
            )


def _contents(page: PageObject) -> Iterator[StreamObject]:
    contents = page.get("/Contents")
    contents = contents.get_object() if contents is not None else None
    for item in contents if isinstance(contents, ArrayObject) else [contents]:
        stream = item.get_object() if item is not None else None
        if isinstance(stream, StreamObject):
            yield stream


def _inflated_size(stream: StreamObject, limit: int) -> int:
    """The stream's decoded size, inflating at most limit + 1 bytes. Streams under other
    filters than one FlateDecode count their encoded size (the parse budget still holds)."""
    raw: bytes = getattr(stream, "_data", b"")  # pypdf's encoded bytes; get_data() decodes all
    if stream.get("/Filter") not in ("/FlateDecode", ["/FlateDecode"]):
        return len(raw)
    try:
        return len(zlib.decompressobj().decompress(raw, limit + 1))
    except zlib.error:
        return len(raw)  # pypdf recovers some broken streams: let it try


def _page_texts(path: str, reader: PdfReader) -> tuple[list[str], int]:
    """Each page's text, "" for a page that cannot be read, and how many could not;
    ParseError if none can."""
    texts: list[str] = []
    errors: list[str] = []
    for index in range(len(reader.pages)):
        try:
            texts.append(reader.pages[index].extract_text() or "")
        except Exception as error:  # pypdf raises many types (PdfReadError, KeyError, ...)
            log.info("%s: page %d skipped, unreadable (%s)", path, index + 1, error)
            texts.append("")
            errors.append(type(error).__name__)
    if errors and len(errors) == len(texts):
        raise ParseError(f"unreadable PDF ({errors[0]})")
    return texts, len(errors)


def _metadata(path: str, reader: PdfReader) -> dict[str, Any]:
    metadata: dict[str, Any] = {"pages": len(reader.pages)}
    try:
        metadata.update(_info(reader))
    except Exception as error:  # a malformed /Info must not lose the pages' text
        log.info("%s: metadata ignored, unreadable (%s)", path, error)
    return json_safe(metadata)


def _info(reader: PdfReader) -> dict[str, Any]:
    info = reader.metadata
    fields: dict[str, Any] = {}
    if info is None:
        return fields
    for field in _METADATA_FIELDS:
        value = getattr(info, field, None)
        if isinstance(value, str) and value.strip():
            fields[field] = _CONTROL.sub("", value).strip()
    try:
        created = info.creation_date
    except ValueError as error:  # a date not in PDF's "D:YYYYMMDD..." form: the rest is fine
        log.info("creation date ignored (%s)", error)
        created = None
    if created is not None:
        fields["created"] = created
    return fields


def _is_title(title: object) -> TypeGuard[str]:
    return isinstance(title, str) and bool(title.strip()) and not _JUNK_TITLE.fullmatch(title)
