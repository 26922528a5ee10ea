"""One batch: read its files from the mirror, parse and chunk each in a parse child under
its budget (thoth.ingest.budget), embed (one encode call across all files), write the output
whole, then the create-only done marker. The last batch to finish enqueues finalize (a named task,
so two "last" batches do not double it)."""

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
from thoth.ingest.pipeline.task_names import FINALIZE_PATH, finalize_task
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


def run_batch(ctx: Context, job_id: str, batch: int) -> BatchResult | None:
    """Process one batch. None when an earlier delivery already completed it."""
    job, _ = ctx.jobs.get(job_id)
    if job.status.finished:  # cancelled, or a very late duplicate
        return None
    if job.plan is None or not 0 <= batch < job.batch_count:
        raise BatchOutOfRange(f"job {job_id} has no batch {batch}")
    started = time.perf_counter()
    ctx.jobs.renew_lease(job.source, job_id)
    if ctx.store.exists(batch_done_key(job_id, batch)):
        log.info("batch already done", extra={"job_id": job_id, "batch": batch})
        _maybe_finalize(ctx, job)
        return None
    citations = job_citations(ctx, job)
    parsed, results = _parse_all(ctx, job, job.plan.batches[batch], citations)
    embed_started = time.perf_counter()
    chunks = _embed(ctx, job.source, parsed, citations)
    embed_seconds = time.perf_counter() - embed_started
    documents = [p.document for p in parsed]
    ctx.jobs.renew_lease(job.source, job_id)  # a job that lost its source commits nothing
    ctx.store.write(batch_output_key(job_id, batch), encode_output(documents, chunks))
    result = BatchResult(
        batch=batch,
        files=results,
        chunks_embedded=len(chunks),
        seconds=round(time.perf_counter() - started, 3),
        embed_seconds=round(embed_seconds, 3),
    )
    ctx.jobs.mark_batch_done(job_id, result)
    _maybe_finalize(ctx, job)
    return result


def _parse_all(
    ctx: Context, job: Job, entries: list[FileEntry], citations: Citations
) -> tuple[list[ParsedFile], list[FileResult]]:
    parsed: list[ParsedFile] = []
    results: list[FileResult] = []
    for entry in entries:
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
