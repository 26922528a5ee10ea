"""Shared helpers for CLI commands: settings, the pipeline context, consistent error exits.

Command modules import what a command needs inside it: `thoth --help` and each command then
load only their own libraries (importing every command's took ~2 s before any work began)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from thoth.bucket.reach import storage_unreachable
from thoth.config import Settings, get_settings
from thoth.errors import Category, ThothError, exit_code

if TYPE_CHECKING:
    from thoth.ingest.pipeline.context import Context

console = Console(stderr=True)  # messages and progress
# A command's result (tables, a job's id and state, search results): what a script reads.
out = Console(highlight=False)
# The servers' bind options (thoth mcp, worker, serve-webhook).
Host = Annotated[str | None, typer.Option(help="Bind address (default THOTH_HOST).")]
Port = Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default $PORT).")]
# The usual cause of missing Google credentials is a shell without the local stack's env.
NO_CREDENTIALS = (
    "no Google credentials found. For the local stack run "
    '`eval "$(thoth dev env)"` first; for Google Cloud, '
    "`gcloud auth application-default login` or GOOGLE_APPLICATION_CREDENTIALS."
)


def pipeline_context() -> Context:
    from thoth.ingest.pipeline.context import Context

    settings = get_settings()
    reach_storage(settings)
    return Context.from_settings(settings)


def reach_storage(settings: Settings) -> None:
    """Exit at once, in one line, when the storage emulator named by STORAGE_EMULATOR_HOST
    does not listen (the local stack is down): the client would retry a refused connection
    for two minutes and end in a traceback."""
    problem = storage_unreachable(settings)
    if problem is not None:
        console.print(f"[red]error:[/red] {problem}", soft_wrap=True)
        raise typer.Exit(1)


@contextmanager
def friendly_errors(*errors: type[Exception]) -> Iterator[None]:
    """Print expected failures as one clear line instead of a traceback, and exit with the
    code of the error's category (README, "Command line"): a ValueError, when listed, is bad
    input (65); the other `errors` exit 1."""
    try:
        yield
    except ThothError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(exit_code(exc.category)) from exc
    except ValueError as exc:  # a name or setting refused by its model: bad input
        if ValueError not in errors:
            raise
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(exit_code(Category.invalid_input)) from exc
    except errors as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
