"""`python -m thoth.ingest.webhook`: the receiver without the rest of the CLI (the image runs
it so; a public service should start fast)."""

from __future__ import annotations

import sys

from thoth.config import get_settings
from thoth.http_server import run_http
from thoth.ingest.webhook.target import ReceiverConfigError, Target


def serve(host: str | None = None, port: int | None = None) -> None:
    try:  # one clear line, not uvicorn's traceback, when the settings are incomplete
        Target.from_settings(get_settings())
    except ReceiverConfigError as exc:
        sys.exit(f"webhook receiver: {exc}")
    run_http("thoth.ingest.webhook.app:app_from_env", host, port)


if __name__ == "__main__":
    serve()
