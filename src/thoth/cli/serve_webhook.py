"""`thoth serve-webhook`: run the public GitLab webhook receiver under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from thoth.ingest.webhook.__main__ import serve


def register(app: typer.Typer) -> None:
    app.command("serve-webhook")(serve_webhook)


def serve_webhook(
    host: Annotated[str | None, typer.Option(help="Bind address (default THOTH_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default $PORT).")
    ] = None,
) -> None:
    """Serve the GitLab webhook receiver: POST /webhooks/gitlab enqueues pushes for the worker."""
    serve(host, port)
