"""`thoth worker`: run the ingestion worker under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from thoth.http_server import run_http


def register(app: typer.Typer) -> None:
    app.command()(worker)


def worker(
    host: Annotated[str | None, typer.Option(help="Bind address (default THOTH_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default $PORT).")
    ] = None,
) -> None:
    """Serve the ingestion worker: /v1 API and the Cloud Tasks targets under /tasks."""
    run_http("thoth.ingest.worker.app:app_from_env", host, port)
