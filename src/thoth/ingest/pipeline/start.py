"""Start an ingestion job: take the source's lock, record the job, enqueue its planning task."""

from __future__ import annotations

from datetime import datetime

from thoth.errors import ConflictError
from thoth.ingest.jobs import Job, new_job_id
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.task_names import PLAN_PATH, plan_task
from thoth.ingest.sources.registry import get_source


class JobConflict(ConflictError):
    """A job for this source is already running."""

    def __init__(self, source: str, running_job: str) -> None:
        super().__init__(f"a job for source {source!r} is already running: {running_job}")
        self.running_job = running_job


def start_job(
    ctx: Context,
    source: str,
    *,
    full: bool = False,
    commit: str | None = None,
    commit_seen_at: datetime | None = None,
) -> Job:
    """Start a job; with `commit`, a job pinned to that commit of a GitLab source."""
    get_source(ctx.store, source)  # raises UnknownSourceError with the known names
    job = Job(
        job_id=new_job_id(),
        source=source,
        full=full,
        commit=commit,
        commit_seen_at=commit_seen_at,
    )
    holder = ctx.jobs.acquire_lock(source, job.job_id)
    if holder is not None:
        raise JobConflict(source, holder)
    try:
        ctx.jobs.create(job)
        ctx.tasks.enqueue(plan_task(job.job_id), PLAN_PATH, {"job_id": job.job_id})
    except Exception:
        ctx.jobs.release_lock(source, job.job_id)
        raise
    return job
