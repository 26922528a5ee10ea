"""YAML frontmatter split from a markdown body, tolerant of broken YAML."""

from __future__ import annotations

from typing import Any

from frontmatter.default_handlers import YAMLHandler

from thoth.parsing.metadata import json_safe

_HANDLER = YAMLHandler()
_MAX_FRONTMATTER_CHARS = 65_536


def split_frontmatter(text: str) -> tuple[dict[str, Any], str]:
    """(metadata, body). Broken or oversized frontmatter gives metadata={} and the body is
    still returned without it: a typo in YAML should not hide a page from search."""
    if not _HANDLER.detect(text):
        return {}, text
    try:
        raw, body = _HANDLER.split(text)
    except ValueError:  # an opening `---` with no closing one: a rule, not frontmatter
        return {}, text
    if len(raw) > _MAX_FRONTMATTER_CHARS:
        return {}, body
    try:
        loaded = _HANDLER.load(raw)
        return (json_safe(loaded) if isinstance(loaded, dict) else {}), body
    except Exception:  # PyYAML raises YAMLError, RecursionError, ValueError... all mean "broken"
        return {}, body
