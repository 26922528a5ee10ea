"""`python -m thoth.serve.mcp`: the HTTP server without the rest of the CLI (a faster cold start:
importing every `thoth` command costs seconds the server does not need)."""

from __future__ import annotations

from thoth.http_server import run_http


def serve(host: str | None = None, port: int | None = None) -> None:
    run_http("thoth.serve.mcp.app:create_app", host, port)


if __name__ == "__main__":
    serve()
