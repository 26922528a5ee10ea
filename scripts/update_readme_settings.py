"""Rewrite the README's settings table from thoth.config.Settings."""

from pathlib import Path

from thoth.cli.config_cmd import markdown_table

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
readme = Path(__file__).resolve().parents[1] / "README.md"
head, rest = readme.read_text().split(START, 1)
tail = rest.split(END, 1)[1]
readme.write_text(f"{head}{START}\n{markdown_table()}\n{END}{tail}")
