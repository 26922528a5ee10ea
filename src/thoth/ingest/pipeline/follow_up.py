"""Keep a GitLab source's index following its pushes (issue 14).

A push is recorded as the source's latest (thoth.bucket.pushes), then an ingest at its commit
starts unless a job holds the source. When a job ends, succeeded or failed, `catch_up` starts
ONE job at the latest push if that push is not what the ended job ingested: a burst of pushes
during a job costs one follow-up, at the last commit. A push is recorded before its delivery
tries the lease, and a job releases the lease before it looks at the record, so between the
two at least one sees the other (no push is left behind). The scheduled sync stays the safety
net, e.g. for a job that failed at the latest commit, which is not retried here.
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel

from thoth.bucket.pointer import read_pointer
from thoth.bucket.pushes import LatestPush, read_push, record_push
from thoth.errors import InvalidInputError
from thoth.ingest.jobs import Job
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.start import JobConflict, start_job
from thoth.ingest.push import PushTask
from thoth.ingest.sources.registry import get_source

log = logging.getLogger(__name__)

PushStatus = Literal["started", "pending", "indexed", "ignored"]


class NotAGitLabSource(InvalidInputError):
    """A push names a source that does not follow a GitLab repository."""


class PushOutcome(BaseModel):
    """What the worker did with one push delivery."""

    source: str
    commit: str
    recorded: bool  # False: a repeat, or older than the latest push already known
    status: PushStatus
    job_id: str | None = None


def on_push(ctx: Context, task: PushTask) -> PushOutcome:
    config = get_source(ctx.store, task.source)
    if config.kind != "gitlab":
        raise NotAGitLabSource(f"source {task.source!r} is a {config.kind} source, not gitlab")
    outcome = PushOutcome(source=task.source, commit=task.commit, recorded=False, status="ignored")
    if task.ref != f"refs/heads/{config.gitlab_ref}":
        return outcome  # the receiver filters refs too; a changed source config lands here
    push = LatestPush(
        source=task.source,
        commit=task.commit,
        ref=task.ref,
        event_uuid=task.event_uuid,
        pushed_at=task.pushed_at,
    )
    outcome.recorded = record_push(ctx.store, push)
    job = catch_up(ctx, task.source)
    if job is not None:
        outcome.status, outcome.job_id = "started", job.job_id
    else:
        outcome.status = "indexed" if _indexed(ctx, task.source) else "pending"
    log.info("push", extra=outcome.model_dump())
    return outcome


def catch_up(ctx: Context, source: str, ended: Job | None = None) -> Job | None:
    """Start a job at the latest push when the index is not at it, no job holds the source,
    and the job that just `ended` (if any) did not already try that commit."""
    latest, _ = read_push(ctx.store, source)
    if latest is None or (ended is not None and ended.commit == latest.commit):
        return None
    if _indexed(ctx, source, latest):
        return None
    try:
        job = start_job(ctx, source, commit=latest.commit, commit_seen_at=latest.pushed_at)
    except JobConflict:
        return None  # the running job calls this again when it ends
    log.info("job at the latest push", extra={"job_id": job.job_id, "commit": latest.commit})
    return job


def catch_up_quietly(ctx: Context, ended: Job) -> None:
    """`catch_up` after a job ended: its failure must not fail the task that ended it."""
    try:
        catch_up(ctx, ended.source, ended)
    except Exception as exc:
        log.warning("no follow-up job for %s: %s", ended.source, exc)


def _indexed(ctx: Context, source: str, latest: LatestPush | None = None) -> bool:
    if latest is None:
        latest, _ = read_push(ctx.store, source)
    pointer, _ = read_pointer(ctx.store, source)
    return latest is not None and pointer is not None and pointer.commit == latest.commit
