"""Bytes to text, refusing data that is binary rather than text in some encoding."""

from __future__ import annotations

import codecs

from thoth.parsing.document import ParseError

_SAMPLE_CHARS = 65_536
# Random bytes read as UTF-8 give ~10 % control characters and ~40 % U+FFFD. Latin-1 prose
# read as UTF-8 gives one U+FFFD per accented letter and no control characters.
_MAX_CONTROL_SHARE = 0.05
_MAX_REPLACEMENT_SHARE = 0.3
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM) or BOM-marked UTF-32 or UTF-16.

    Invalid UTF-8 sequences become U+FFFD so one bad byte never loses a page, but data that
    looks binary (NUL bytes, or many control or replacement characters) raises ParseError.
    """
    # The UTF-32 little-endian BOM begins with the UTF-16 one: it is checked first.
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return data.decode("utf-32", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    return check_text(data.decode("utf-8-sig", errors="replace"))


def check_text(text: str) -> str:
    """The text itself, or ParseError when it looks binary (NUL, control characters)."""
    if "\x00" in text or _looks_binary(text[:_SAMPLE_CHARS]):
        raise ParseError("binary data, not text")
    return text


def _looks_binary(sample: str) -> bool:
    if not sample:
        return False
    controls = sum(1 for char in sample if _is_control(char))
    replacements = sample.count("\ufffd")
    return controls > _MAX_CONTROL_SHARE * len(
        sample
    ) or replacements > _MAX_REPLACEMENT_SHARE * len(sample)


def _is_control(char: str) -> bool:
    return (char < " " and char not in _ALLOWED_CONTROLS) or char == "\x7f"
