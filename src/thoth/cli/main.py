"""The `thoth` command. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

import sys

import typer

from thoth.cli import (
    config_cmd,
    dev,
    index,
    ingest,
    jobs,
    model,
    search,
    serve_mcp,
    serve_webhook,
    serve_worker,
    sources,
)
from thoth.cli.context import NO_CREDENTIALS, console
from thoth.errors import encodable

app = typer.Typer(
    name="thoth",
    help="Semantic search over your handbook, for AI assistants (MCP).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _root() -> None:
    """Thoth: ingest a handbook into a searchable index and serve it over MCP."""


for module in (
    ingest,
    jobs,
    index,
    sources,
    search,
    serve_mcp,
    serve_worker,
    serve_webhook,
    dev,
    config_cmd,
    model,
):
    module.register(app)


def run() -> None:
    """The `thoth` executable: the app, with these explained in one line each instead of a
    traceback: an invalid setting, named by its variable; missing Google credentials (the
    usual cause is a shell without the local stack's env); a Google Cloud endpoint that gives
    no answer after the client's retries."""
    from google.auth.exceptions import DefaultCredentialsError
    from pydantic import ValidationError

    from thoth.config import invalid_settings

    undecodable = [arg for arg in sys.argv[1:] if encodable(arg) != arg]
    if undecodable:  # the shell passed bytes that are not UTF-8: no name or path has them
        shown = encodable(undecodable[0], 80)
        console.print(f"[red]error:[/red] argument '{shown}' is not valid UTF-8")
        raise SystemExit(2)
    try:
        app()
    except ValidationError as exc:
        problems = invalid_settings(exc)
        if problems is None:
            raise
        for problem in problems:  # a setting from the environment or .env: no traceback
            console.print(f"[red]error:[/red] invalid setting {problem}", soft_wrap=True)
        raise SystemExit(EXIT_BAD_SETTINGS) from None
    except DefaultCredentialsError:
        console.print(f"[red]error:[/red] {NO_CREDENTIALS}", soft_wrap=True)  # pasteable
        raise SystemExit(1) from None
    except Exception as exc:
        if not gave_up(exc):
            raise
        console.print(f"[red]error:[/red] no answer from Google Cloud: {exc}", soft_wrap=True)
        raise SystemExit(1) from None


EXIT_BAD_SETTINGS = 78  # sysexits.h EX_CONFIG

# What Google's clients raise once their retries are spent. Looked up among the modules already
# imported: one never imported cannot have raised, and importing them costs every command.
GAVE_UP = (("requests", "ConnectionError"), ("google.api_core.exceptions", "RetryError"))


def gave_up(exc: BaseException) -> bool:
    return any(
        isinstance(exc, getattr(sys.modules[module], name))
        for module, name in GAVE_UP
        if module in sys.modules
    )


if __name__ == "__main__":
    run()
