"""The `thoth` command. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

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
    serve_worker,
)

app = typer.Typer(
    name="thoth",
    help="Semantic search over your handbook, for AI assistants (MCP).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _root() -> None:
    """Thoth: ingest a handbook into a searchable index and serve it over MCP."""


for module in (ingest, jobs, index, search, serve_mcp, serve_worker, dev, config_cmd, model):
    module.register(app)

if __name__ == "__main__":
    app()
