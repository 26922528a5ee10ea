"""`python -m thoth.ingest.webhook`: the receiver without the rest of the CLI (the image runs
it so; a public service should start fast)."""

from __future__ import annotations

from thoth.http_server import run_http


def serve(host: str | None = None, port: int | None = None) -> None:
    run_http("thoth.ingest.webhook.app:app_from_env", host, port)


if __name__ == "__main__":
    serve()
