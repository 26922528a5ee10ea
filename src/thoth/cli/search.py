"""`thoth search "QUERY"`: the search_handbook tool from the command line, over the same
index the MCP server loads (downloaded into the cache directory once)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from thoth.bucket.reach import storage_unreachable
from thoth.cli.context import NO_CREDENTIALS, console, friendly_errors, out
from thoth.config import get_settings
from thoth.errors import Category, exit_code
from thoth.serve.limits import MAX_NUM_RESULTS

if TYPE_CHECKING:
    from thoth.serve.search import SearchMode


def register(app: typer.Typer) -> None:
    app.command("search")(search)


def search(
    query: Annotated[str, typer.Argument(help="A question or keywords.")],
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    k: Annotated[
        int, typer.Option("-k", "--num-results", help=f"Results, 1-{MAX_NUM_RESULTS}.")
    ] = 5,
    prefix: Annotated[str | None, typer.Option(help="Only paths under this folder.")] = None,
    mode: Annotated[str, typer.Option(help="hybrid, dense or fulltext.")] = "hybrid",
    rerank: Annotated[
        bool, typer.Option("--rerank", help="Reorder the best passages with the cross-encoder.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly what the MCP tool returns.")
    ] = False,
) -> None:
    """Search the handbook index, as the search_handbook MCP tool does."""
    from thoth.serve import tools
    from thoth.serve.loader import IndexCache
    from thoth.serve.search import SearchError
    from thoth.serve.service import ThothService

    settings = get_settings()
    cache = IndexCache(settings)
    unreachable = storage_unreachable(settings)
    if unreachable is None:
        cache.refresh()
    else:  # the copies a past search or server left in the cache, at once
        cache.load_local_copies(unreachable)
    status = cache.status()
    if not status.ready:
        reasons = "; ".join(f"{k}: {v}" for k, v in status.errors.items()) or "nothing published"
        if "DefaultCredentialsError" in reasons:  # the loader keeps the error as "Type: text"
            console.print(f"[red]error:[/red] {NO_CREDENTIALS}", soft_wrap=True)
        else:
            console.print(f"[red]error:[/red] no index could be loaded ({reasons})", soft_wrap=True)
        raise typer.Exit(exit_code(Category.unavailable))
    if unreachable is not None:
        console.print(
            f"[yellow]warning:[/yellow] {unreachable} Searching the local copy.", soft_wrap=True
        )
    service = ThothService(settings, cache)
    if mode != "fulltext":
        service.load_encoder()
        if service.encoder is None:
            console.print(f"[yellow]warning:[/yellow] {service.encoder_error}; full text only")
    with friendly_errors(SearchError):
        output = tools.search_handbook(
            service.engine(), query, k, source, prefix, mode=_mode(mode), rerank=rerank
        )
    if as_json:
        typer.echo(output.model_dump_json(indent=2))
        return
    for rank, result in enumerate(output.results, start=1):
        heading = f" — {result.heading}" if result.heading else ""
        out.print(f"[bold]{rank}. {result.title}[/bold]{heading}  ({result.score:.3f})")
        out.print(f"   {result.source}:{result.path}  {result.url}", style="dim")
        snippet = " ".join(result.text.split())
        out.print(f"   {snippet[:300]}{'…' if len(snippet) > 300 else ''}\n")
    if not output.results:
        out.print("no results")


def _mode(value: str) -> SearchMode:
    if value not in ("hybrid", "dense", "fulltext"):
        raise typer.BadParameter("mode must be hybrid, dense or fulltext")
    return value  # type: ignore[return-value]
