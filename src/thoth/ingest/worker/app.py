"""The ingestion worker: a thin HTTP layer over the pipeline functions.

Public API under /v1; Cloud Tasks targets under /tasks (OIDC-verified). Handlers are plain
`def`s: FastAPI runs them in its thread pool, so embedding never blocks the event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response

from thoth.config import Settings, get_settings
from thoth.ingest.jobs import JOB_ID_PATTERN, JobProgress
from thoth.ingest.pipeline.batch import run_batch
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.failure import job_fails_for_good
from thoth.ingest.pipeline.finalize import finalize_job
from thoth.ingest.pipeline.follow_up import PushOutcome, on_push
from thoth.ingest.pipeline.plan import plan_job
from thoth.ingest.pipeline.remove import Removal, remove_source
from thoth.ingest.pipeline.start import start_job
from thoth.ingest.push import PUSH_PATH
from thoth.ingest.sources.models import SOURCE_PATTERN, SourceConfig
from thoth.ingest.sources.registry import get_source, list_sources, save_source
from thoth.ingest.sources.roots import allowed_folder
from thoth.ingest.sources.sync import SyncReport, sync_source
from thoth.ingest.tasks import TaskQueue
from thoth.ingest.worker.callers import require_api_caller, require_task_caller
from thoth.ingest.worker.errors import add_error_handlers
from thoth.ingest.worker.request_guard import request_guard
from thoth.ingest.worker.schemas import (
    BatchTask,
    IngestAccepted,
    IngestRequest,
    JobTask,
    PushBody,
)
from thoth.logs import configure_logging, trace_context
from thoth.paths import UnsafePathError

log = logging.getLogger("thoth.ingest.pipeline")

# Every body the worker takes is small (a source's settings, an ingest request, a task, which
# Cloud Tasks caps at 1 MB); unbounded, 400,000 unknown fields cost pydantic 6 s of CPU. A
# larger body, declared or chunked, is a 413 before the app reads it whole.
MAX_BODY_BYTES = 1024 * 1024
SourceName = Annotated[str, Path(pattern=SOURCE_PATTERN)]
RetryCount = Annotated[int, Header(alias="X-CloudTasks-TaskRetryCount", ge=0)]


def create_app(settings: Settings | None = None, ctx: Context | None = None) -> FastAPI:
    settings = settings or get_settings()
    ctx = ctx or Context.from_settings(settings)
    app = FastAPI(
        title="Thoth ingestion worker",
        version="0.1.0",
        lifespan=_lifespan,
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.settings = settings
    app.state.ctx = ctx
    add_error_handlers(app)
    app.middleware("http")(request_guard(settings))
    app.middleware("http")(_log_requests)
    _add_public_routes(app, ctx)
    _add_task_routes(app, ctx)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    ctx: Context = app.state.ctx
    if ctx.settings.cloud_tasks_emulator_host and isinstance(ctx.tasks, TaskQueue):
        # Locally the worker configures the emulator's queue; it waits for the emulator
        # in the background rather than failing to start.
        threading.Thread(target=_configure_queue, args=(ctx.tasks,), daemon=True).start()
    yield


def _configure_queue(tasks: TaskQueue) -> None:
    try:
        tasks.ensure_queue()
        log.info("queue configured", extra={"queue": tasks.settings.queue_path})
    except Exception as exc:
        log.warning("could not configure the queue %s: %s", tasks.settings.queue_path, exc)


def _add_public_routes(app: FastAPI, ctx: Context) -> None:
    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_api_caller)])

    @v1.get("/sources")
    def sources() -> list[SourceConfig]:
        return list_sources(ctx.store)

    @v1.put("/sources/{source}")
    def put_source(source: SourceName, config: SourceConfig) -> SourceConfig:
        if config.name != source:
            raise UnsafePathError(f"body name {config.name!r} does not match the URL {source!r}")
        if config.directory is not None:
            allowed_folder(config.directory, ctx.settings.source_roots)
        save_source(ctx.store, config)
        return config

    @v1.delete("/sources/{source}")
    def delete_source(source: SourceName) -> Removal:
        return remove_source(ctx, source)

    @v1.post("/sources/{source}/sync")
    def sync(source: SourceName) -> SyncReport:
        return sync_source(ctx.store, get_source(ctx.store, source), settings=ctx.settings)

    @v1.post("/ingest", status_code=202)
    def ingest(body: IngestRequest) -> IngestAccepted:
        job = start_job(ctx, body.source, full=body.full)
        return IngestAccepted(
            job_id=job.job_id, source=job.source, status_url=f"/v1/jobs/{job.job_id}"
        )

    @v1.get("/jobs")
    def jobs(limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[JobProgress]:
        return [ctx.jobs.progress(job_id) for job_id in ctx.jobs.list_ids(limit)]

    @v1.get("/jobs/{job_id}")
    def job(job_id: Annotated[str, Path(pattern=JOB_ID_PATTERN)]) -> JobProgress:
        return ctx.jobs.progress(job_id)

    app.include_router(v1)


def _add_task_routes(app: FastAPI, ctx: Context) -> None:
    verified = [Depends(require_task_caller)]

    @app.post("/tasks/plan", dependencies=verified)
    def plan(body: JobTask, retry: RetryCount = 0) -> dict[str, Any]:
        with job_fails_for_good(ctx, body.job_id, retry):
            job = plan_job(ctx, body.job_id)
        return {"job_id": job.job_id, "batches": job.batch_count}

    @app.post("/tasks/ingest-batch", dependencies=verified)
    def ingest_batch(body: BatchTask, retry: RetryCount = 0) -> dict[str, Any]:
        with job_fails_for_good(ctx, body.job_id, retry):
            result = run_batch(ctx, body.job_id, body.batch, body.start)
        chunks = result.chunks_embedded if result else 0
        return {
            "job_id": body.job_id,
            "batch": body.batch,
            "start": body.start,
            "repeat": result is None,
            "chunks": chunks,
        }

    @app.post(PUSH_PATH, dependencies=verified)
    def push(body: PushBody) -> PushOutcome:
        return on_push(ctx, body)

    @app.post("/tasks/finalize", dependencies=verified)
    def finalize(body: JobTask, retry: RetryCount = 0) -> dict[str, Any]:
        with job_fails_for_good(ctx, body.job_id, retry):
            job = finalize_job(ctx, body.job_id)
        return {"job_id": job.job_id, "status": job.status, "version": job.version}


async def _log_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    token = trace_context.set(request.headers.get("x-cloud-trace-context"))
    started = time.perf_counter()
    response = await call_next(request)
    log.info(
        "%s %s %s",
        request.method,
        request.url.path,
        response.status_code,
        extra={
            "status": response.status_code,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "task": request.headers.get("x-cloudtasks-taskname"),
            "retry": request.headers.get("x-cloudtasks-taskretrycount"),
        },
    )
    trace_context.reset(token)
    return response


def app_from_env() -> FastAPI:
    """uvicorn entry point: `uvicorn --factory thoth.ingest.worker.app:app_from_env`."""
    settings = get_settings()
    configure_logging(settings)
    return create_app(settings)
