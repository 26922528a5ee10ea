"""`thoth index list SOURCE`, `thoth index rollback SOURCE VERSION`."""

from __future__ import annotations

from typing import Annotated

import typer

from thoth.cli.context import console, friendly_errors, out, pipeline_context
from thoth.errors import Category, exit_code

index_app = typer.Typer(help="Index versions: list them, roll back to one.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")


@index_app.command("list")
def list_command(source: Annotated[str, typer.Argument(help="Source name.")]) -> None:
    """List a source's index versions; the current one is marked."""
    from rich.table import Table

    from thoth.bucket.versions import list_versions

    versions = list_versions(pipeline_context().store, source)
    if not versions:  # as `index rollback` answers an unknown source
        console.print(f"[red]error:[/red] source {source!r} has no index versions")
        raise typer.Exit(exit_code(Category.not_found))
    table = Table("version", "complete", "current")
    for info in versions:
        table.add_row(info.version, "yes" if info.complete else "no", "◀" if info.current else "")
    out.print(table)


@index_app.command("rollback")
def rollback_command(
    source: Annotated[str, typer.Argument(help="Source name.")],
    version: Annotated[str, typer.Argument(help="A complete version from `thoth index list`.")],
) -> None:
    """Point the source back at an older version; MCP servers pick it up on their next poll."""
    from thoth.bucket.store import NotFound, PreconditionFailed
    from thoth.bucket.versions import rollback

    with friendly_errors(NotFound, PreconditionFailed):
        pointer = rollback(pipeline_context().store, source, version)
    out.print(f"{source} now serves {pointer.version} (was {pointer.previous})")
