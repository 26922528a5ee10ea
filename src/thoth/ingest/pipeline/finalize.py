"""Finalize a job: merge carried-over and new chunks into a LanceDB snapshot, upload it as a new
version, compare-and-swap the pointer, record the counts, release the source (design.md §2-3).

Runs once per job (a named task) and is safe to repeat: a claim marker keeps two deliveries
from building at once, and a job already finished returns immediately.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from thoth.bucket.keys import batch_output_key, finalize_claim_key, version_prefix
from thoth.bucket.pointer import Pointer, read_pointer, swap_pointer
from thoth.bucket.records import ChunkRecord, DocumentRecord
from thoth.bucket.snapshot import SnapshotManifest, build_snapshot
from thoth.bucket.store import PreconditionFailed
from thoth.bucket.versions import collect_garbage, upload_version
from thoth.ingest.jobs import Job, JobStatus, tally
from thoth.ingest.pipeline.base_snapshot import local_snapshot
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.outputs import decode_output

log = logging.getLogger(__name__)

CLAIM_TTL = timedelta(minutes=20)


class NotReady(Exception):
    """Finalize arrived before every batch finished, or another delivery is finalizing."""


def finalize_job(ctx: Context, job_id: str) -> Job:
    job, _ = ctx.jobs.get(job_id)
    if job.status.finished:
        return job
    if job.plan is None:
        raise NotReady(f"job {job_id} is not planned yet")
    results = ctx.jobs.batch_results(job_id)
    if len(results) < job.batch_count:
        raise NotReady(f"job {job_id}: {len(results)} of {job.batch_count} batches done")
    _claim(ctx, job_id)
    manifest = _publish(ctx, job)
    _swap(ctx, job, manifest)
    job = _record_success(ctx, job_id, manifest)
    ctx.jobs.release_lock(job.source, job_id)
    removed = collect_garbage(ctx.store, job.source, ctx.settings.index_keep_versions)
    log.info("published", extra={"job_id": job_id, "version": job.version, "gc": removed})
    return job


def _claim(ctx: Context, job_id: str) -> None:
    key = finalize_claim_key(job_id)
    now = datetime.now(UTC)
    if ctx.store.create_only(key, now.isoformat().encode()):
        return
    data, generation = ctx.store.read(key)
    if now - datetime.fromisoformat(data.decode()) < CLAIM_TTL:
        raise NotReady(f"job {job_id} is being finalized by another delivery")
    try:  # the claimant died: take over
        ctx.store.write(key, now.isoformat().encode(), if_generation=generation)
    except PreconditionFailed as exc:
        raise NotReady(f"job {job_id} is being finalized by another delivery") from exc


def _publish(ctx: Context, job: Job) -> SnapshotManifest:
    assert job.plan is not None
    documents, chunks = _carried_over(ctx, job)
    for batch in range(job.batch_count):
        data, _ = ctx.store.read(batch_output_key(job.job_id, batch))
        new_documents, new_chunks = decode_output(data)
        documents += new_documents
        chunks += new_chunks
    build_dir = Path(ctx.settings.cache_dir) / "build" / job.job_id
    shutil.rmtree(build_dir, ignore_errors=True)
    manifest = build_snapshot(
        build_dir,
        source=job.source,
        version=job.job_id,
        documents=documents,
        chunks=chunks,
        model=ctx.settings.embedding_model,
        dimensions=_dimensions(ctx, chunks),
    )
    # A crashed earlier attempt may have left part of this version: start it clean.
    ctx.store.delete_prefix(version_prefix(job.source, job.job_id))
    upload_version(ctx.store, job.source, job.job_id, build_dir)
    shutil.rmtree(build_dir, ignore_errors=True)
    return manifest


def _carried_over(ctx: Context, job: Job) -> tuple[list[DocumentRecord], list[ChunkRecord]]:
    assert job.plan is not None
    if job.plan.base_version is None or not job.plan.unchanged:
        return [], []
    keep = {entry.path for entry in job.plan.unchanged}
    snapshot = local_snapshot(ctx.store, ctx.settings.cache_dir, job.source, job.plan.base_version)
    documents = [doc for doc in snapshot.documents() if doc.path in keep]
    return documents, list(snapshot.chunks(keep))


def _dimensions(ctx: Context, chunks: list[ChunkRecord]) -> int:
    return int(chunks[0].vector.shape[0]) if chunks else ctx.embedder.dimensions


def _swap(ctx: Context, job: Job, manifest: SnapshotManifest) -> None:
    pointer, generation = read_pointer(ctx.store, job.source)
    if pointer is not None and pointer.version == job.job_id:
        return
    target = Pointer(
        source=job.source,
        version=job.job_id,
        documents=manifest.documents,
        chunks=manifest.chunks,
        job_id=job.job_id,
        previous=pointer.version if pointer else None,
    )
    try:
        swap_pointer(ctx.store, target, generation)
    except PreconditionFailed:
        winner, _ = read_pointer(ctx.store, job.source)
        if winner is None or winner.version != job.job_id:
            raise


def _record_success(ctx: Context, job_id: str, manifest: SnapshotManifest) -> Job:
    for _ in range(5):
        job, generation = ctx.jobs.get(job_id)
        if job.status.finished:
            return job
        counts, errors = tally(job.plan, ctx.jobs.batch_results(job_id))
        counts.chunks_total = manifest.chunks
        job.counts, job.errors = counts, errors
        job.status, job.version = JobStatus.succeeded, job_id
        try:
            ctx.jobs.save(job, generation)
            return job
        except PreconditionFailed:
            continue
    raise NotReady(f"job {job_id}: could not record success (contention)")
