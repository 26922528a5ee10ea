"""PDF text extracted page by page with pypdf; each page is a section ("Page N").

When the PDF has an outline (the bookmarks Word, Google Docs and LaTeX write from headings),
a page's section also carries the bookmark titles in effect: "Benefits > Parental leave >
Page 4". A bookmark starts its section where its title first appears in its page's text; one
whose title is not found there starts at the top of the page, unless a bookmark before it on
the page was found (then it names no text on that page).

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
_MAX_BOOKMARKS = 2000
_MAX_OUTLINE_DEPTH = 6  # heading paths deeper than this add nothing a reader can use
_MAX_TITLE = 200


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
    blocks = _blocks(pages, _outline(path, reader))
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


Bookmark = tuple[int, tuple[str, ...]]  # (page index, titles from the outline's top)


def _outline(path: str, reader: PdfReader) -> list[Bookmark]:
    """The bookmarks in page order; [] when there are none or the outline cannot be read."""
    found: list[Bookmark] = []

    def walk(items: list[Any], parents: tuple[str, ...]) -> None:
        current: tuple[str, ...] | None = None
        for item in items:
            if len(found) >= _MAX_BOOKMARKS:
                return
            if isinstance(item, list):  # the children of the bookmark before it
                if current is not None and len(current) < _MAX_OUTLINE_DEPTH:
                    walk(item, current)
                continue
            title = " ".join(_CONTROL.sub("", str(item.title or "")).split())[:_MAX_TITLE]
            page = reader.get_destination_page_number(item)
            current = (*parents, title) if title else None
            if current is not None and page is not None and page >= 0:
                found.append((page, current))

    try:
        walk(reader.outline, ())
    except Exception as error:  # a malformed outline must not lose the pages' text
        log.info("%s: outline ignored, unreadable (%s)", path, error)
        return []
    return sorted(found, key=lambda bookmark: bookmark[0])


def _blocks(pages: list[str], outline: list[Bookmark]) -> list[Block]:
    starting: dict[int, list[tuple[str, ...]]] = {}
    for page, path in outline:
        starting.setdefault(page, []).append(path)
    blocks: list[Block] = []
    titles: tuple[str, ...] = ()
    for index, raw in enumerate(pages):
        text = _CONTROL.sub("", raw)
        starts = starting.get(index, [])
        for part, part_titles in _split_at_titles(text, titles, starts):
            if part.strip():
                blocks.append(Block((*part_titles, f"Page {index + 1}"), part.strip(), "text"))
        titles = starts[-1] if starts else titles
    return blocks


def _split_at_titles(
    text: str, before: tuple[str, ...], starts: list[tuple[str, ...]]
) -> list[tuple[str, tuple[str, ...]]]:
    """The page's text cut where each bookmark starting on it first has its title, in order.
    A title not found starts its section at the top of the page when no bookmark before it
    on the page was found, and otherwise names no text there (it cannot take a found one's)."""
    parts: list[tuple[str, tuple[str, ...]]] = []
    position, titles, cut = 0, before, False
    for start in starts:
        words = start[-1].split()
        found = re.compile(r"\s+".join(map(re.escape, words)), re.IGNORECASE).search(text, position)
        if found is not None:
            parts.append((text[position : found.start()], titles))
            position, titles, cut = found.start(), start, True
        elif not cut:
            titles = start
    parts.append((text[position:], titles))
    return parts


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
