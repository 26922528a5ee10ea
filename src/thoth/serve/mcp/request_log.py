"""One log line per /mcp request (design.md §9): severity, message, the trace from
`X-Cloud-Trace-Context`, status, latency and the search's CPU per stage
(thoth.serve.search.stages), which the response also carries in a `Server-Timing` header.
Pure ASGI, so streamed responses pass through untouched; the cost is one header scan and one
log record per request.

Also silences the SDK's per-request INFO noise ("Terminating session: None" for every
stateless request) without hiding its warnings and errors."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thoth.logs import trace_context
from thoth.serve.search.stages import collecting, server_timing

log = logging.getLogger("thoth.serve.mcp.requests")

_TRACE_HEADER = b"x-cloud-trace-context"
_NOISY = (("mcp.server.streamable_http", "Terminating session"),)


class _DropMessages(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.INFO and str(record.msg).startswith(self.prefix))


def silence_sdk_noise() -> None:
    """Drop the SDK's per-request INFO lines (idempotent)."""
    for name, prefix in _NOISY:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(prefix))


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, path: str = "/mcp") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == self.path or path.startswith(self.path + "/")):
            await self.app(scope, receive, send)
            return
        trace = None
        for key, value in scope["headers"]:
            if key == _TRACE_HEADER:
                trace = value.decode("latin-1")
                break
        token = trace_context.set(trace)
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        with collecting() as stages:

            async def send_with_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    if stages:  # JSON responses start after the tool has returned
                        headers = list(message.get("headers", []))
                        headers.append((b"server-timing", server_timing(stages).encode()))
                        message = {**message, "headers": headers}
                await send(message)

            try:
                await self.app(scope, receive, send_with_status)
            finally:
                latency_ms = round((time.perf_counter() - started) * 1000, 1)
                extra: dict[str, object] = {"status": status, "latency_ms": latency_ms}
                if stages:
                    extra["stages_cpu_ms"] = {k: round(v, 3) for k, v in stages.items()}
                log.log(
                    logging.WARNING if status >= 500 else logging.INFO,
                    "%s %s %s",
                    scope["method"],
                    path,
                    status,
                    extra=extra,
                )
                trace_context.reset(token)
