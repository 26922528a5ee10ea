"""The README's settings table is the code's: regenerate it with `thoth config --markdown`."""

from __future__ import annotations

from pathlib import Path

from thoth.cli.config_cmd import markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def test_settings_table_matches_the_code() -> None:
    text = README.read_text()
    table = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert table == markdown_table(), "run: python scripts/update_readme_settings.py"
