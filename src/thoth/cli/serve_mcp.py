"""`thoth mcp`: serve MCP over Streamable HTTP (uvicorn), or over stdio for desktop clients."""

from __future__ import annotations

from typing import Annotated

import typer

from thoth.cli.context import Host, Port
from thoth.config import get_settings
from thoth.logs import configure_logging


def register(app: typer.Typer) -> None:
    app.command("mcp")(mcp)


def mcp(
    stdio: Annotated[
        bool, typer.Option("--stdio", help="Speak MCP on stdin/stdout instead of HTTP.")
    ] = False,
    host: Host = None,
    port: Port = None,
) -> None:
    """Serve the handbook to AI assistants over MCP (HTTP at /mcp by default)."""
    settings = get_settings()
    configure_logging(settings)
    if stdio:
        from thoth.serve.mcp.stdio import run_stdio

        run_stdio(settings)
        return
    from thoth.serve.mcp.__main__ import serve

    serve(host, port)
