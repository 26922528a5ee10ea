"""Shared helpers for CLI commands: settings, the pipeline context, consistent error exits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from thoth.config import get_settings
from thoth.errors import ThothError, exit_code
from thoth.ingest.pipeline.context import Context

console = Console(stderr=True)
# The usual cause of missing Google credentials is a shell without the local stack's env.
NO_CREDENTIALS = (
    "no Google credentials found. For the local stack run "
    '`eval "$(thoth dev env)"` first; for Google Cloud, '
    "`gcloud auth application-default login` or GOOGLE_APPLICATION_CREDENTIALS."
)


def pipeline_context() -> Context:
    return Context.from_settings(get_settings())


@contextmanager
def friendly_errors(*errors: type[Exception]) -> Iterator[None]:
    """Print expected failures as one clear line instead of a traceback, and exit with the
    code of the error's category (README, "Command line"); the other `errors` exit 1."""
    try:
        yield
    except ThothError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(exit_code(exc.category)) from exc
    except errors as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
