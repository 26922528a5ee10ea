"""When a task's error ends its job: a permanent error (a missing folder, a refused token, a
job that lost its source) at once, any other error on the task's last attempt. The job is
then marked failed with the reason and its source is released, so the next ingest starts
(and a push that arrived meanwhile gets its follow-up job, pipeline.follow_up).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from thoth.errors import ThothError, is_permanent
from thoth.ingest.pipeline.claim import ClaimHeld
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.follow_up import catch_up_quietly

log = logging.getLogger(__name__)

MAX_REASON = 500


@contextmanager
def job_fails_for_good(ctx: Context, job_id: str, retry_count: int) -> Iterator[None]:
    """Around one delivery of a task: on an error no further delivery can fix, mark the job
    failed, then re-raise (the worker still answers the error)."""
    try:
        yield
    except Exception as exc:
        # A live claim means another delivery is finishing the job: leave it to that one.
        last = retry_count + 1 >= ctx.settings.queue_max_attempts
        if is_permanent(exc) or (last and not isinstance(exc, ClaimHeld)):
            _fail(ctx, job_id, reason(exc, retry_count + 1 if last else None))
        raise


def reason(exc: BaseException, attempts: int | None = None) -> str:
    """What the job record says: the error, with its type when it is not one of ours."""
    text = str(exc) if isinstance(exc, ThothError) else f"{type(exc).__name__}: {exc}"
    if attempts is not None and not is_permanent(exc):
        text = f"{text} (last of {attempts} attempts)"
    return text[:MAX_REASON]


def _fail(ctx: Context, job_id: str, why: str) -> None:
    try:
        job = ctx.jobs.fail(job_id, why)
    except Exception as exc:  # the store may be what failed: the next delivery tries again
        log.warning("could not mark job %s failed: %s", job_id, exc)
        return
    log.warning("job failed", extra={"job_id": job_id, "reason": job.error})
    catch_up_quietly(ctx, job)
