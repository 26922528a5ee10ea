"""Finalize a job: merge carried-over and new chunks into a LanceDB snapshot, upload it as a new
version, compare-and-swap the pointer, record the counts, release the source (design.md §2-3).
A job that changed nothing (every served file carried over, none added, the same links: commit
and base URL) keeps the served version instead.

Runs once per job (a named task) and is safe to repeat: a claim marker keeps two deliveries
from building at once, and a job already finished returns immediately. A version is never
rewritten once it is complete, and never touched once the pointer names it: a repeat after a
crash publishes what is already uploaded.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa

from thoth.bucket.keys import batch_output_key, version_prefix
from thoth.bucket.pointer import Pointer, read_pointer, swap_pointer
from thoth.bucket.records import documents_to_arrow
from thoth.bucket.snapshot import SnapshotManifest, SourceState, chunk_table, write_snapshot
from thoth.bucket.store import NotFound, PreconditionFailed
from thoth.bucket.versions import collect_garbage, upload_version, uploaded_manifest
from thoth.errors import ConflictError, UnavailableError
from thoth.ingest.jobs import Job, JobStatus, LeaseLost, tally
from thoth.ingest.pipeline.base_snapshot import (
    adopt_copy,
    chunking_signature,
    forget_source,
    local_snapshot,
)
from thoth.ingest.pipeline.citations import job_citations, links, repin
from thoth.ingest.pipeline.claim import CLAIM_TTL, Claim, NotReady
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.follow_up import catch_up_quietly
from thoth.ingest.pipeline.heartbeat import Heartbeat
from thoth.ingest.pipeline.outputs import decode_output

__all__ = ["IndexMovedOn", "NotReady", "finalize_job"]

log = logging.getLogger(__name__)


class IndexMovedOn(ConflictError):
    """The source's index changed since the job planned from it: publishing would replace a
    newer index with one built on an older base."""

    always_permanent = True


class PointedVersionDamaged(UnavailableError):
    """The pointer names this job's version but the version is not complete in the store."""


def finalize_job(ctx: Context, job_id: str) -> Job:
    job, _ = ctx.jobs.get(job_id)
    if job.status.finished:
        catch_up_quietly(ctx, job)  # a repeat after a crash between release and follow-up
        return job
    if job.plan is None:
        raise NotReady(f"job {job_id} is not planned yet")
    results = ctx.jobs.batch_results(job_id)
    if len(results) < job.batch_count:
        raise NotReady(f"job {job_id}: {len(results)} of {job.batch_count} batches done")
    ctx.jobs.renew_lease(job.source, job_id)
    served = _served_unchanged(ctx, job)
    if served is not None:
        return _keep_served(ctx, job, served)
    claim = Claim.take(ctx.store, job_id)
    try:
        with Heartbeat(claim.renew, CLAIM_TTL.total_seconds() / 4):
            manifest = _publish(ctx, job)
            _renew_or_discard(ctx, job)
            _swap(ctx, job, manifest)
            job = _record_success(ctx, job_id, job_id, manifest.chunks)
    except BaseException:
        claim.release()  # the next delivery may start at once
        raise
    ctx.jobs.release_lock(job.source, job_id)
    removed = collect_garbage(
        ctx.store, job.source, ctx.settings.index_keep_versions, in_use=_job_running(ctx)
    )
    log.info("published", extra={"job_id": job_id, "version": job.version, "gc": removed})
    catch_up_quietly(ctx, job)
    return job


def _renew_or_discard(ctx: Context, job: Job) -> None:
    """Renew the lease before the swap; a job that lost it (cancelled, or taken over) never
    publishes, so the version it uploaded goes (else a source removed after `thoth cancel`
    would get a version back)."""
    try:
        ctx.jobs.renew_lease(job.source, job.job_id)
    except LeaseLost:
        pointer, _ = read_pointer(ctx.store, job.source)
        if pointer is None or pointer.version != job.job_id:
            ctx.store.delete_prefix(version_prefix(job.source, job.job_id))
        raise


def _served_unchanged(ctx: Context, job: Job) -> Pointer | None:
    """The pointer, when the job found nothing to change in the index it serves: no file
    added, changed or deleted, and the same links (a new commit or base URL changes every
    citation). Publishing a copy would only push a real rollback target out of the versions
    kept (an hourly schedule would leave none older than five hours)."""
    plan = job.plan
    assert plan is not None
    if plan.base_version is None or plan.added or plan.changed or plan.deleted:
        return None
    pointer, _ = read_pointer(ctx.store, job.source)
    if pointer is None or pointer.version != plan.base_version:
        return None
    # An indexed file now skipped (grown over the size limit) is in neither list, but the
    # new version would drop it: only a plan that carries every served file over is a no-op.
    if pointer.documents != len(plan.unchanged):
        return None
    return pointer if pointer.links == links(job_citations(ctx, job)) else None


def _keep_served(ctx: Context, job: Job, served: Pointer) -> Job:
    job = _record_success(ctx, job.job_id, served.version, served.chunks)
    ctx.jobs.release_lock(job.source, job.job_id)
    log.info("nothing changed", extra={"job_id": job.job_id, "version": served.version})
    catch_up_quietly(ctx, job)
    return job


def _publish(ctx: Context, job: Job) -> SnapshotManifest:
    published = _already_uploaded(ctx, job)
    if published is not None:
        return published
    documents, chunks, dimensions = _rows(ctx, job)
    build_dir = Path(ctx.settings.cache_dir) / "build" / job.job_id
    shutil.rmtree(build_dir, ignore_errors=True)
    try:  # on Cloud Run the folder is memory until the instance stops: never left behind
        manifest = write_snapshot(
            build_dir,
            source=job.source,
            version=job.job_id,
            documents=documents,
            chunks=chunks,
            model=ctx.settings.embedding_model,
            variant=ctx.settings.embedding_variant,
            chunking=chunking_signature(ctx.settings),
            dimensions=dimensions,
            source_state=SourceState(commit=job.commit, seen_at=job.commit_seen_at),
        )
        del documents, chunks  # written: not held beside the folder while it uploads
        # What a crashed attempt left is partial and unpointed (checked above): start it clean.
        ctx.store.delete_prefix(version_prefix(job.source, job.job_id))
        upload_version(ctx.store, job.source, job.job_id, build_dir)
        adopt_copy(ctx.settings.cache_dir, job.source, job.job_id, build_dir)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    return manifest


def _rows(ctx: Context, job: Job) -> tuple[pa.Table, pa.Table, int]:
    """The new version's document and chunk rows (carried over, re-pinned, then each
    batch's), and its vectors' size. Arrow throughout: a large source's rows as Python records
    took ~4x the memory, and only one batch's records exist at a time."""
    carried = _carried_over(ctx, job)
    dimensions = carried.dimensions if carried is not None else None
    documents: list[pa.Table] = []
    chunks: list[pa.Table] = []
    if carried is not None:
        citations = job_citations(ctx, job)
        documents.append(repin(citations, carried.documents))
        chunks.append(repin(citations, carried.chunks))
        del carried
    outputs = [
        batch_output_key(job.job_id, result.batch, start)
        for result in ctx.jobs.batch_results(job.job_id)
        for start in result.parts
    ]
    for key in outputs:
        new_documents, new_chunks = decode_output(ctx.store.read(key)[0])
        documents.append(documents_to_arrow(new_documents))
        if new_chunks:
            dimensions = dimensions or int(new_chunks[0].vector.shape[0])
            chunks.append(chunk_table(new_chunks, dimensions))
    dimensions = dimensions or ctx.embedder.dimensions
    documents.append(documents_to_arrow([]))  # the schemas, when there is no other row
    chunks.append(chunk_table([], dimensions))
    return pa.concat_tables(documents), pa.concat_tables(chunks), dimensions


def _already_uploaded(ctx: Context, job: Job) -> SnapshotManifest | None:
    """The manifest of this job's version when an earlier attempt completed the upload."""
    manifest = uploaded_manifest(ctx.store, job.source, job.job_id)
    pointer, _ = read_pointer(ctx.store, job.source)
    if manifest is None and pointer is not None and pointer.version == job.job_id:
        raise PointedVersionDamaged(
            f"{job.source}@{job.job_id} is served but incomplete in the store; "
            f"roll back with `thoth index rollback {job.source} {pointer.previous}`"
        )
    return manifest


class Carried(NamedTuple):
    """The base version's rows of the files carried over unchanged, and its vectors' size."""

    documents: pa.Table
    chunks: pa.Table
    dimensions: int


def _carried_over(ctx: Context, job: Job) -> Carried | None:
    assert job.plan is not None
    carried = None
    if job.plan.base_version is not None and job.plan.unchanged:
        keep = {entry.path for entry in job.plan.unchanged}
        with local_snapshot(
            ctx.store, ctx.settings.cache_dir, job.source, job.plan.base_version
        ) as base:
            dimensions = base.manifest.dimensions
            carried = Carried(base.documents_of(keep), base.chunks_of(keep), dimensions)
    # In memory now (or nothing carried over): the base copy would only sit beside the version
    # being built (both memory, on Cloud Run), and the next job builds on that one.
    forget_source(ctx.settings.cache_dir, job.source)
    return carried


def _swap(ctx: Context, job: Job, manifest: SnapshotManifest) -> None:
    """Point readers at the job's version, only if the index is still the one it planned
    from (`plan.base_version`)."""
    assert job.plan is not None
    pointer, generation = read_pointer(ctx.store, job.source)
    current = pointer.version if pointer else None
    if current == job.job_id:
        return
    if current != job.plan.base_version:
        raise _moved_on(job, current)
    target = Pointer(
        source=job.source,
        version=job.job_id,
        documents=manifest.documents,
        chunks=manifest.chunks,
        job_id=job.job_id,
        previous=current,
        commit=job.commit,
        links=links(job_citations(ctx, job)),
    )
    try:
        swap_pointer(ctx.store, target, generation)
    except PreconditionFailed:
        winner, _ = read_pointer(ctx.store, job.source)
        if winner is None or winner.version != job.job_id:
            raise _moved_on(job, winner.version if winner else None) from None


def _moved_on(job: Job, current: str | None) -> IndexMovedOn:
    assert job.plan is not None
    return IndexMovedOn(
        f"job {job.job_id} planned from version {job.plan.base_version or '(none)'} of "
        f"{job.source!r}, but the index is now at {current or '(none)'}; not publishing "
        "an index built on an older base (run the ingest again)"
    )


def _record_success(ctx: Context, job_id: str, version: str, chunks: int) -> Job:
    """Record the job succeeded, leaving `version` (of `chunks` chunks) served."""
    for _ in range(5):
        job, generation = ctx.jobs.get(job_id)
        if job.status.finished:
            return job
        counts, errors = tally(job.plan, ctx.jobs.batch_results(job_id))
        counts.chunks_total = chunks
        job.counts, job.errors = counts, errors
        job.status, job.version = JobStatus.succeeded, version
        try:
            ctx.jobs.save(job, generation)
            return job
        except PreconditionFailed:
            continue
    raise NotReady(f"job {job_id}: could not record success (contention)")


def _job_running(ctx: Context) -> Callable[[str], bool]:
    def running(version: str) -> bool:
        try:
            job, _ = ctx.jobs.get(version)  # a version's id is its job's id
        except NotFound:
            return False
        return not job.status.finished

    return running
