"""Keep a GitLab source's index following its pushes (issue 14).

A push is a signal, not a commit to ingest: GitLab delivers events in no set order and a
resend of an old event arrives as new, so the worker reads the branch's head from GitLab and
records that as the source's latest (thoth.bucket.pushes); then an ingest at it starts unless
a job holds the source. When a job ends, succeeded or failed, `catch_up` starts
ONE job at the latest push if that push is not what the ended job ingested: a burst of pushes
during a job costs one follow-up, at the last commit. A push is recorded before its delivery
tries the lease, and a job releases the lease before it looks at the record, so between the
two at least one sees the other (no push is left behind). The scheduled sync stays the safety
net, e.g. for a job that failed at the latest commit, which is not retried here.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from thoth.bucket.pointer import read_pointer
from thoth.bucket.pushes import LatestPush, read_push, record_push
from thoth.errors import InvalidInputError
from thoth.ingest.jobs import Job
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.start import JobConflict, start_job
from thoth.ingest.push import PushTask
from thoth.ingest.sources.gitlab import GitLabNotFoundError
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import get_source
from thoth.ingest.sources.sync import gitlab_client

log = logging.getLogger(__name__)

PushStatus = Literal["started", "pending", "indexed", "ignored"]


class NotAGitLabSource(InvalidInputError):
    """A push names a source that does not follow a GitLab repository."""


class PushOutcome(BaseModel):
    """What the worker did with one push delivery."""

    source: str
    commit: str  # what the push names
    head: str | None = None  # the branch's head read from GitLab: what is recorded
    recorded: bool  # False: the head already recorded, or a head read later is
    status: PushStatus
    reason: str | None = None
    job_id: str | None = None


def on_push(ctx: Context, task: PushTask) -> PushOutcome:
    config = get_source(ctx.store, task.source)
    if config.kind != "gitlab" or config.gitlab_project is None:
        raise NotAGitLabSource(f"source {task.source!r} is a {config.kind} source, not gitlab")
    outcome = PushOutcome(source=task.source, commit=task.commit, recorded=False, status="ignored")
    if task.ref != f"refs/heads/{config.gitlab_ref}":
        outcome.reason = f"not the source's ref (refs/heads/{config.gitlab_ref})"
        return outcome  # the receiver filters refs too; a changed source config lands here
    try:
        outcome.head, outcome.recorded = record_head(ctx, config, task.event_uuid, task.pushed_at)
    except GitLabNotFoundError:
        outcome.reason = "the branch no longer exists in GitLab"
        log.info("push", extra=outcome.model_dump())
        return outcome
    job = catch_up(ctx, task.source)
    if job is not None:
        outcome.status, outcome.job_id = "started", job.job_id
    else:
        outcome.status = "indexed" if _indexed(ctx, task.source) else "pending"
    log.info("push", extra=outcome.model_dump())
    return outcome


def record_head(
    ctx: Context, config: SourceConfig, event_uuid: str, pushed_at: datetime | None
) -> tuple[str, bool]:
    """Read the branch's head from GitLab and record it as the source's latest push (unless
    a head read later is recorded): the head, and whether it was recorded. A failure to ask
    GitLab is an UnavailableError (503), so Cloud Tasks retries the push."""
    if config.gitlab_project is None:
        raise NotAGitLabSource(f"source {config.name!r} names no GitLab project")
    seen_at = datetime.now(UTC)
    with gitlab_client(ctx.settings) as client:
        head = client.commit_id(config.gitlab_project, config.gitlab_ref)
    push = LatestPush(
        source=config.name,
        commit=head,
        ref=f"refs/heads/{config.gitlab_ref}",
        event_uuid=event_uuid,
        pushed_at=pushed_at or seen_at,
        seen_at=seen_at,
    )
    return head, record_push(ctx.store, push)


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
    """`catch_up` after a job ended: its failure must not fail the task that ended it. For a
    source that follows pushes the head is read again first: a push whose webhook was lost,
    or two deliveries that read the head in one instant, are caught here."""
    try:
        latest, _ = read_push(ctx.store, ended.source)
        config = get_source(ctx.store, ended.source)
        if latest is not None and config.kind == "gitlab":
            record_head(ctx, config, f"job-end-{ended.job_id}", None)
    except Exception as exc:  # the recorded push still gets its follow-up below
        log.warning("could not read the head of %s again: %s", ended.source, exc)
    try:
        catch_up(ctx, ended.source, ended)
    except Exception as exc:
        log.warning("no follow-up job for %s: %s", ended.source, exc)


def _indexed(ctx: Context, source: str, latest: LatestPush | None = None) -> bool:
    if latest is None:
        latest, _ = read_push(ctx.store, source)
    pointer, _ = read_pointer(ctx.store, source)
    return latest is not None and pointer is not None and pointer.commit == latest.commit
