"""One batch: its files parsed and embedded (thoth.ingest.pipeline.file_run), the output written
whole, then the create-only done marker. The last batch to finish enqueues finalize (a named
task, so two "last" batches do not double it). A batch whose work outruns
THOTH_BATCH_BUDGET_SECONDS is done in parts (thoth.ingest.pipeline.parts)."""

from __future__ import annotations

import logging
import time

from thoth.bucket.keys import batch_done_key, batch_output_key
from thoth.errors import InvalidInputError
from thoth.ingest.jobs import BatchResult, FileEntry, Job, PartResult
from thoth.ingest.pipeline.citations import job_citations
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.file_run import FileRun, run_files
from thoth.ingest.pipeline.outputs import encode_output
from thoth.ingest.pipeline.parts import (
    part_starts,
    read_cut,
    read_parts,
    record_cut,
    save_part,
)
from thoth.ingest.pipeline.task_names import (
    BATCH_PATH,
    FINALIZE_PATH,
    batch_part_task,
    finalize_task,
)
from thoth.ingest.sources.models import Citations

log = logging.getLogger(__name__)


class BatchOutOfRange(ValueError, InvalidInputError):
    pass


def run_batch(ctx: Context, job_id: str, batch: int, start: int = 0) -> BatchResult | None:
    """Process one batch, or its files from `start` on. None when an earlier delivery
    already completed the batch."""
    job, _ = ctx.jobs.get(job_id)
    if job.status.finished:  # cancelled, or a very late duplicate
        return None
    files = _batch_files(job, batch, start)
    started = time.perf_counter()
    ctx.jobs.renew_lease(job.source, job_id)
    if ctx.store.exists(batch_done_key(job_id, batch)):
        log.info("batch already done", extra={"job_id": job_id, "batch": batch})
        _maybe_finalize(ctx, job)
        return None
    citations = job_citations(ctx, job)
    run, end = _run_part(ctx, job, batch, files, start, citations, started)
    chunks, documents = run.records(), [p.document for p in run.parsed]
    ctx.jobs.renew_lease(job.source, job_id)  # a job that lost its source commits nothing
    ctx.store.write(batch_output_key(job_id, batch, start), encode_output(documents, chunks))
    part = PartResult(
        files=run.results,
        chunks_embedded=len(chunks),
        seconds=round(time.perf_counter() - started, 3),
        embed_seconds=round(run.embed_seconds, 3),
    )
    if end < len(files):
        _hand_over(ctx, job_id, batch, start, end, part)
        return BatchResult(batch=batch, parts=[start], **part.model_dump())
    result = _whole_batch(ctx, job_id, batch, start, part)
    ctx.jobs.mark_batch_done(job_id, result)
    _maybe_finalize(ctx, job)
    return result


def _batch_files(job: Job, batch: int, start: int) -> list[FileEntry]:
    if job.plan is None or not 0 <= batch < job.batch_count:
        raise BatchOutOfRange(f"job {job.job_id} has no batch {batch}")
    files = job.plan.batches[batch]
    if not 0 <= start < len(files):
        raise BatchOutOfRange(f"batch {batch} of job {job.job_id} has no file {start}")
    return files


def _run_part(
    ctx: Context,
    job: Job,
    batch: int,
    files: list[FileEntry],
    start: int,
    citations: Citations,
    started: float,
) -> tuple[FileRun, int]:
    """The part's files parsed and embedded, and where the part ends: where a delivery
    before this one cut it, else where this one stopped (its budget spent, or the batch's
    end), recorded for every later delivery. A delivery beside this one may record first:
    then its cut holds."""
    end = read_cut(ctx.store, job.job_id, batch, start)
    deadline = None if end is not None else started + ctx.settings.batch_budget_seconds
    run = run_files(ctx, job.source, files[start:end], citations, deadline)
    stop = start + len(run.results)
    if end is not None:
        return run, end
    end = record_cut(ctx.store, job.job_id, batch, start, stop)
    if end > stop:  # cut later beside this one: go on up to its cut
        run += run_files(ctx, job.source, files[stop:end], citations, None)
    elif end < stop:  # ... or sooner: keep only its files
        kept = {entry.path for entry in files[start:end]}
        run.parsed = [p for p in run.parsed if p.entry.path in kept]
        run.results = run.results[: end - start]
    return run, end


def _hand_over(
    ctx: Context, job_id: str, batch: int, start: int, end: int, part: PartResult
) -> None:
    save_part(ctx.store, job_id, batch, start, part)
    payload = {"job_id": job_id, "batch": batch, "start": end}
    ctx.tasks.enqueue(batch_part_task(job_id, batch, end), BATCH_PATH, payload)
    log.info(
        "batch outran its budget: the rest follows in another task",
        extra={"job_id": job_id, "batch": batch, "start": start, "next": end},
    )


def _whole_batch(
    ctx: Context, job_id: str, batch: int, start: int, last: PartResult
) -> BatchResult:
    """The batch's result: this, its last part, with the parts before it."""
    starts = part_starts(ctx.store, job_id, batch, start)
    parts = [*read_parts(ctx.store, job_id, batch, starts[:-1]), last]
    return BatchResult(
        batch=batch,
        files=[result for part in parts for result in part.files],
        chunks_embedded=sum(part.chunks_embedded for part in parts),
        seconds=round(sum(part.seconds for part in parts), 3),
        embed_seconds=round(sum(part.embed_seconds for part in parts), 3),
        parts=starts,
    )


def _maybe_finalize(ctx: Context, job: Job) -> None:
    """Markers are written before this count, so the last batch always sees all of them."""
    if ctx.jobs.batches_done(job.job_id) >= job.batch_count:
        ctx.tasks.enqueue(finalize_task(job.job_id), FINALIZE_PATH, {"job_id": job.job_id})
