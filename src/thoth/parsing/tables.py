"""Tables rendered as readable pipe rows, the form every parser gives a "table" block."""

from __future__ import annotations

from collections.abc import Sequence


def render_table(rows: Sequence[Sequence[str]]) -> str:
    """`| a | b |` lines, header first; empty rows are dropped."""
    lines = [_render_row(row) for row in rows if any(cell.strip() for cell in row)]
    return "\n".join(lines)


def _render_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_clean_cell(cell) for cell in cells) + " |"


def _clean_cell(cell: str) -> str:
    return " ".join(cell.split()).replace("|", "\\|")
