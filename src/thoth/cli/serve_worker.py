"""`thoth worker`: run the ingestion worker under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from thoth.config import get_settings


def register(app: typer.Typer) -> None:
    app.command()(worker)


def worker(
    host: Annotated[str | None, typer.Option(help="Bind address (default THOTH_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default $PORT).")] = None,
) -> None:
    """Serve the ingestion worker: /v1 API and the Cloud Tasks targets under /tasks."""
    settings = get_settings()
    uvicorn.run(
        "thoth.ingestion.app:app_from_env",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
