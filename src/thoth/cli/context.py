"""Shared helpers for CLI commands: settings, the pipeline context, consistent error exits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from thoth.config import get_settings
from thoth.ingest.pipeline.context import Context

console = Console(stderr=True)


def pipeline_context() -> Context:
    return Context.from_settings(get_settings())


@contextmanager
def friendly_errors(*errors: type[Exception]) -> Iterator[None]:
    """Print expected failures as one clear line and exit 1, instead of a traceback."""
    try:
        yield
    except errors as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
