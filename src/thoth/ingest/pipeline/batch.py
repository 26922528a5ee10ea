"""One batch: read its files from the mirror, parse and chunk each in a parse child under
its budget (thoth.ingest.budget), embed (one encode call across all files), write the output
whole, then the create-only done marker. The last batch to finish enqueues finalize (a named task,
so two "last" batches do not double it). A batch whose parsing outruns THOTH_BATCH_BUDGET_SECONDS
is done in parts (thoth.ingest.pipeline.parts)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from thoth.bucket.keys import batch_done_key, batch_output_key, source_key
from thoth.bucket.records import ChunkRecord, DocumentRecord
from thoth.bucket.store import NotFound
from thoth.errors import InvalidInputError
from thoth.ingest.budget import FileRequest
from thoth.ingest.chunking import Chunk
from thoth.ingest.jobs import BatchResult, FileEntry, FileResult, Job
from thoth.ingest.pipeline.citations import job_citations
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.outputs import encode_output
from thoth.ingest.pipeline.parts import (
    PartResult,
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
from thoth.parsing import ParseError, UnsupportedFileType, is_supported

log = logging.getLogger(__name__)


class BatchOutOfRange(ValueError, InvalidInputError):
    pass


@dataclass
class ParsedFile:
    entry: FileEntry
    document: DocumentRecord
    chunks: list[Chunk]


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
    parsed, results, end = _parse_part(ctx, job, batch, files, start, citations, started)
    embed_started = time.perf_counter()
    chunks = _embed(ctx, job.source, parsed, citations)
    embed_seconds = time.perf_counter() - embed_started
    documents = [p.document for p in parsed]
    ctx.jobs.renew_lease(job.source, job_id)  # a job that lost its source commits nothing
    ctx.store.write(batch_output_key(job_id, batch, start), encode_output(documents, chunks))
    part = PartResult(
        files=results,
        chunks_embedded=len(chunks),
        seconds=round(time.perf_counter() - started, 3),
        embed_seconds=round(embed_seconds, 3),
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


def _parse_part(
    ctx: Context,
    job: Job,
    batch: int,
    files: list[FileEntry],
    start: int,
    citations: Citations,
    started: float,
) -> tuple[list[ParsedFile], list[FileResult], int]:
    """The part's files parsed, and where the part ends: where a delivery before this one
    cut it, else where this one stopped (its budget spent, or the batch's end), recorded for
    every later delivery. A delivery beside this one may record first: then its cut holds."""
    end = read_cut(ctx.store, job.job_id, batch, start)
    deadline = None if end is not None else started + ctx.settings.batch_budget_seconds
    parsed, results = _parse_all(ctx, job, files[start:end], citations, deadline)
    stop = start + len(results)
    if end is not None:
        return parsed, results, end
    end = record_cut(ctx.store, job.job_id, batch, start, stop)
    if end > stop:  # cut later beside this one: parse up to its cut
        more, more_results = _parse_all(ctx, job, files[stop:end], citations, None)
        parsed, results = parsed + more, results + more_results
    elif end < stop:  # ... or sooner: keep only its files
        kept = {entry.path for entry in files[start:end]}
        parsed, results = [p for p in parsed if p.entry.path in kept], results[: end - start]
    return parsed, results, end


def _hand_over(
    ctx: Context, job_id: str, batch: int, start: int, end: int, part: PartResult
) -> None:
    save_part(ctx.store, job_id, batch, start, part)
    payload = {"job_id": job_id, "batch": batch, "start": end}
    ctx.tasks.enqueue(batch_part_task(job_id, batch, end), BATCH_PATH, payload)
    log.info(
        "batch outran its parse budget: the rest follows in another task",
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


def _parse_all(
    ctx: Context,
    job: Job,
    entries: list[FileEntry],
    citations: Citations,
    deadline: float | None,
) -> tuple[list[ParsedFile], list[FileResult]]:
    """Each entry parsed in order; with a `deadline`, none is started after it (one always is)."""
    parsed: list[ParsedFile] = []
    results: list[FileResult] = []
    for entry in entries:
        if deadline is not None and results and time.perf_counter() > deadline:
            break
        outcome = _parse_one(ctx, job.source, entry, citations)
        if isinstance(outcome, FileResult):
            results.append(outcome)
        else:
            parsed.append(outcome)
            results.append(
                FileResult(path=entry.path, outcome="indexed", chunks=len(outcome.chunks))
            )
    return parsed, results


def _parse_one(
    ctx: Context, source: str, entry: FileEntry, citations: Citations
) -> ParsedFile | FileResult:
    if not is_supported(entry.path):
        return FileResult(path=entry.path, outcome="skipped")
    # Outside the try: a storage or transport error fails the whole batch, so Cloud Tasks
    # retries it, instead of costing this file its place in the index.
    try:
        data, _ = ctx.store.read(source_key(source, entry.path))
    except NotFound:
        return FileResult(path=entry.path, outcome="failed", error="deleted during ingestion")
    try:
        settings = ctx.settings
        request = FileRequest(
            entry.path,
            data,
            source,
            ctx.max_tokens,
            settings.chunk_overlap_tokens,
            settings.chunk_pack_below,
        )
        output = ctx.parse_budget.run(request)
    except UnsupportedFileType:
        return FileResult(path=entry.path, outcome="skipped")
    except ParseError as exc:
        return FileResult(path=entry.path, outcome="failed", error=str(exc))
    except Exception as exc:  # a parser bug must cost one file, not the whole batch
        log.exception("unexpected error parsing %s", entry.path)
        error = f"unexpected {type(exc).__name__}: {exc}"[:500]
        return FileResult(path=entry.path, outcome="failed", error=error)
    document = DocumentRecord(
        source=source,
        path=entry.path,
        title=output.title,
        url=citations.url(entry.path),
        file_hash=entry.file_hash,
        text=output.text,
        chunk_count=len(output.chunks),
        metadata=output.metadata,
    )
    return ParsedFile(entry, document, output.chunks)


def _embed(
    ctx: Context, source: str, parsed: list[ParsedFile], citations: Citations
) -> list[ChunkRecord]:
    pairs = [(p, c) for p in parsed for c in p.chunks]
    if not pairs:
        return []
    vectors = ctx.embedder.encode([c.embed_text for _, c in pairs])
    return [
        ChunkRecord(
            chunk_id=chunk.chunk_id,
            source=source,
            path=chunk.path,
            title=chunk.title,
            heading=chunk.heading,
            url=citations.url(chunk.path, chunk.anchor),
            text=chunk.text,
            ordinal=chunk.ordinal,
            file_hash=parsed_file.entry.file_hash,
            vector=vectors[i],
            anchor=chunk.anchor,
        )
        for i, (parsed_file, chunk) in enumerate(pairs)
    ]


def _maybe_finalize(ctx: Context, job: Job) -> None:
    """Markers are written before this count, so the last batch always sees all of them."""
    if ctx.jobs.batches_done(job.job_id) >= job.batch_count:
        ctx.tasks.enqueue(finalize_task(job.job_id), FINALIZE_PATH, {"job_id": job.job_id})
