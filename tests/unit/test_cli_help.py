"""The command lists of `thoth --help` and its groups show each command's first paragraph.

Typer's rich mode prints that paragraph's line breaks as they are in the docstring, which cut
descriptions mid-sentence in the lists; so each first paragraph is one line."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import click
import typer

from thoth.cli.main import app


def _commands(group: click.Command, name: str) -> Iterator[tuple[str, click.Command]]:
    for sub_name, sub in getattr(group, "commands", {}).items():
        yield f"{name} {sub_name}", sub
        yield from _commands(sub, f"{name} {sub_name}")


def test_every_command_summary_is_one_line() -> None:
    commands = list(_commands(typer.main.get_command(app), "thoth"))
    assert len(commands) > 20
    broken = [
        name
        for name, command in commands
        if "\n" in inspect.cleandoc(command.help or "").split("\n\n")[0]
    ]
    assert broken == []
