"""`python -m thoth.mcp`: the HTTP server without the rest of the CLI (a faster cold start:
importing every `thoth` command costs seconds the server does not need)."""

from __future__ import annotations

import uvicorn

from thoth.config import get_settings
from thoth.logs import configure_logging


def serve(host: str | None = None, port: int | None = None) -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level, settings.project)
    uvicorn.run(
        "thoth.mcp.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    serve()
