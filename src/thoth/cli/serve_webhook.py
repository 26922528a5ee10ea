"""`thoth serve-webhook`: run the public GitLab webhook receiver under uvicorn."""

from __future__ import annotations

import typer

from thoth.cli.context import Host, Port


def register(app: typer.Typer) -> None:
    app.command("serve-webhook")(serve_webhook)


def serve_webhook(
    host: Host = None,
    port: Port = None,
) -> None:
    """Serve the GitLab webhook receiver: POST /webhooks/gitlab enqueues pushes for the worker."""
    from thoth.ingest.webhook.__main__ import serve

    serve(host, port)
