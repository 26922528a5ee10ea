"""Turns handbook files (markdown, text, PDF, DOCX, HTML) into ParsedDocuments.

Empty (or whitespace-only) files parse to a document with no blocks, which the pipeline
indexes with zero chunks. Binary data under a text extension raises ParseError; invalid
UTF-8 inside otherwise textual data is decoded with U+FFFD replacement characters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import PurePosixPath

from thoth.parsing.document import (
    Block,
    ParsedDocument,
    ParseError,
    UnsupportedFileType,
    title_from_path,
)
from thoth.parsing.docx import parse_docx
from thoth.parsing.html import parse_html
from thoth.parsing.markdown import parse_markdown
from thoth.parsing.pdf import parse_pdf
from thoth.parsing.text import parse_text

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "Block",
    "ParseError",
    "ParsedDocument",
    "UnsupportedFileType",
    "is_supported",
    "parse_document",
]

_PARSERS: dict[str, Callable[[str, bytes], ParsedDocument]] = {
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".mdx": parse_markdown,
    ".txt": parse_text,
    ".pdf": parse_pdf,
    ".docx": parse_docx,
    ".html": parse_html,
    ".htm": parse_html,
}

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_PARSERS)
# Invisible characters that split a word for full-text search ("pass\u00adword" is not
# "password" to BM25): soft hyphens, zero-width spaces, word joiners, stray byte-order marks.
# Zero-width (non-)joiners stay: some scripts and emoji need them.
_INVISIBLE = str.maketrans("", "", "\u00ad\u200b\u2060\ufeff")


def _extension(path: str) -> str:
    return PurePosixPath(path.replace("\\", "/")).suffix.lower()


def is_supported(path: str) -> bool:
    return _extension(path) in _PARSERS


def parse_document(path: str, data: bytes) -> ParsedDocument:
    """Parse by extension (case-insensitive). Raises UnsupportedFileType or ParseError."""
    parser = _PARSERS.get(_extension(path))
    if parser is None:
        raise UnsupportedFileType(f"unsupported file type: {_extension(path) or 'none'}")
    if not data.strip():
        return ParsedDocument(path=path, title=title_from_path(path), metadata={}, blocks=[])
    return _visible(parser(path, data))


def _visible(doc: ParsedDocument) -> ParsedDocument:
    """The document without invisible word-splitting characters (anchors, derived from the
    source's headings as GitLab renders them, are left as they are)."""
    blocks = [
        dataclasses.replace(
            block,
            heading_path=tuple(h.translate(_INVISIBLE) for h in block.heading_path),
            text=block.text.translate(_INVISIBLE),
        )
        for block in doc.blocks
    ]
    return dataclasses.replace(doc, title=doc.title.translate(_INVISIBLE), blocks=blocks)
