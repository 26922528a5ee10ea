"""`thoth worker`: run the ingestion worker under uvicorn."""

from __future__ import annotations

import typer

from thoth.cli.context import Host, Port


def register(app: typer.Typer) -> None:
    app.command()(worker)


def worker(
    host: Host = None,
    port: Port = None,
) -> None:
    """Serve the ingestion worker: /v1 API and the Cloud Tasks targets under /tasks."""
    from thoth.http_server import run_http

    run_http("thoth.ingest.worker.app:app_from_env", host, port)
