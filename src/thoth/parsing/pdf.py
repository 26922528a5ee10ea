"""PDF text extracted page by page with pypdf; each page is a section ("Page N")."""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PasswordType, PdfReader

from thoth.parsing.document import Block, ParsedDocument, ParseError, title_from_path
from thoth.parsing.metadata import json_safe

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_METADATA_FIELDS = ("title", "author", "subject", "creator", "producer")


def parse_pdf(path: str, data: bytes) -> ParsedDocument:
    try:
        reader = _open(data)
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata = _metadata(reader)
    except ParseError:
        raise
    except Exception as error:  # pypdf raises many types (PdfReadError, KeyError, ...)
        raise ParseError(f"unreadable PDF ({type(error).__name__})") from None
    blocks = [
        Block((f"Page {number}",), text, "text")
        for number, raw in enumerate(pages, start=1)
        if (text := _CONTROL.sub("", raw).strip())
    ]
    title = metadata.get("title")
    return ParsedDocument(
        path=path,
        title=title if isinstance(title, str) and title.strip() else title_from_path(path),
        metadata=metadata,
        blocks=blocks,
    )


def _open(data: bytes) -> PdfReader:
    reader = PdfReader(io.BytesIO(data))
    # Many PDFs are encrypted with an empty user password only to restrict editing.
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise ParseError("encrypted PDF (password required)")
    return reader


def _metadata(reader: PdfReader) -> dict[str, Any]:
    info = reader.metadata
    metadata: dict[str, Any] = {"pages": len(reader.pages)}
    if info is not None:
        for field in _METADATA_FIELDS:
            value = getattr(info, field, None)
            if isinstance(value, str) and value.strip():
                metadata[field] = _CONTROL.sub("", value).strip()
        if info.creation_date is not None:
            metadata["created"] = info.creation_date
    return json_safe(metadata)
