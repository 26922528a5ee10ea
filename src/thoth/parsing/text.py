"""Plain text: one block per paragraph (blank-line separated), no headings."""

from __future__ import annotations

import re

from thoth.parsing.decode import decode_text
from thoth.parsing.document import Block, ParsedDocument, title_from_path

_BLANK_LINES = re.compile(r"\n[ \t]*\n")


def parse_text(path: str, data: bytes) -> ParsedDocument:
    text = decode_text(data).replace("\r\n", "\n")
    paragraphs = (part.strip() for part in _BLANK_LINES.split(text))
    blocks = [Block((), paragraph, "text") for paragraph in paragraphs if paragraph]
    return ParsedDocument(path=path, title=title_from_path(path), metadata={}, blocks=blocks)
