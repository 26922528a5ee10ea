"""The receiver's HTTP surface: POST /webhooks/gitlab and GET /health, nothing else (no
OpenAPI pages on a public service), and one log line per request (design.md §9)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from thoth.config import Settings, get_settings
from thoth.ingest.tasks import Enqueuer, TaskQueue
from thoth.ingest.webhook.event import EVENT_UUID_HEADER, WEBHOOK_UUID_HEADER
from thoth.ingest.webhook.receiver import Outcome, receive
from thoth.ingest.webhook.target import Target
from thoth.logs import configure_logging, trace_context

WEBHOOK_PATH = "/webhooks/gitlab"
log = logging.getLogger("thoth.ingest.webhook")


def create_app(
    settings: Settings | None = None,
    *,
    queue: Enqueuer | None = None,
    token: str | None = None,
) -> FastAPI:
    """The receiver for `settings` (its target resolved now: a receiver without a secret
    token or a source does not start)."""
    settings = settings or get_settings()
    target = Target.from_settings(settings, token)
    tasks = queue or TaskQueue(settings)
    app = FastAPI(title="Thoth webhook receiver", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(_log_requests)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(WEBHOOK_PATH)
    async def gitlab(request: Request) -> Response:
        outcome = await receive(request, target, tasks)
        request.state.outcome = outcome
        return outcome.response()

    return app


async def _log_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    token = trace_context.set(request.headers.get("x-cloud-trace-context"))
    started = time.perf_counter()
    response = await call_next(request)
    outcome: Outcome | None = getattr(request.state, "outcome", None)
    extra = {
        "status": response.status_code,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        "event_uuid": _header(request, EVENT_UUID_HEADER),
        "webhook_uuid": _header(request, WEBHOOK_UUID_HEADER),
    }
    if outcome is not None:
        extra |= {"result": outcome.result, "reason": outcome.reason, "task": outcome.task}
        extra |= outcome.fields
    log.info("%s %s %s", request.method, request.url.path, response.status_code, extra=extra)
    trace_context.reset(token)
    return response


def _header(request: Request, name: str) -> str | None:
    value = request.headers.get(name)
    return value[:64] if value else None


def app_from_env() -> FastAPI:
    """uvicorn entry point: `uvicorn --factory thoth.ingest.webhook.app:app_from_env`."""
    settings = get_settings()
    configure_logging(settings)
    return create_app(settings)
