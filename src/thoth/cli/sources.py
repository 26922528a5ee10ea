"""`thoth sources list`, `thoth sources remove SOURCE [--yes]`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from thoth.cli.context import friendly_errors, out, pipeline_context

if TYPE_CHECKING:
    from thoth.bucket.store import BlobStore
    from thoth.ingest.sources.models import SourceConfig

sources_app = typer.Typer(
    help="Sources and their indexes: list them, remove one.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(sources_app, name="sources")


@sources_app.command("list")
def list_command() -> None:
    """List the sources, where their files come from and the version served."""
    from rich.table import Table

    from thoth.bucket.versions import indexed_sources
    from thoth.ingest.sources.registry import list_sources

    store = pipeline_context().store
    table = Table("source", "files from", "citations", "serving")
    configs = list_sources(store)
    for config in configs:
        table.add_row(
            config.name, _origin(config), config.base_url or "", _serving(store, config.name)
        )
    registered = {config.name for config in configs}
    for name in indexed_sources(store):
        if name not in registered:  # still served; `sources remove` takes it away
            table.add_row(name, "(not registered)", "", _serving(store, name))
    out.print(table)


def _serving(store: BlobStore, source: str) -> str:
    from thoth.bucket.pointer import read_pointer

    try:
        pointer, _ = read_pointer(store, source)
    except ValueError:  # one damaged pointer must not hide the other sources
        return "(unreadable pointer)"
    return pointer.version if pointer is not None else "(no index yet)"


def _origin(config: SourceConfig) -> str:
    if config.kind == "gitlab":
        return f"GitLab {config.gitlab_project} at {config.gitlab_ref}"
    if config.kind == "dir":
        return f"folder {config.directory}"
    return "uploaded (thoth ingest --from-dir)"


@sources_app.command("remove")
def remove_command(
    source: Annotated[str, typer.Argument(help="The source to remove.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a source with every version of its index and its files.

    Deletes the registration, every index version and the uploaded or mirrored files; MCP
    servers stop serving the source at their next poll. Refused while a job runs for it."""
    from thoth.ingest.pipeline.remove import remove_source
    from thoth.ingest.sources.models import validate_source_name
    from thoth.ingest.sources.registry import UnknownSourceError

    with friendly_errors(ValueError):
        validate_source_name(source)
    if not yes:
        if not sys.stdin.isatty():
            raise typer.BadParameter("removal deletes every index version; add --yes to confirm")
        typer.confirm(f"Remove {source!r} and every version of its index?", abort=True)
    with friendly_errors(UnknownSourceError, ValueError):
        removal = remove_source(pipeline_context(), source)
    served = f"; it served {removal.served_version}" if removal.served_version else ""
    out.print(
        f"removed {source}: {removal.index_objects} index objects and "
        f"{removal.mirror_objects} source files deleted{served}"
    )
