"""Plan a job: sync the source, compare the mirror with the current snapshot, cut batches.

Runs as the `/tasks/plan` Cloud Task. Safe to repeat: a planned job only re-enqueues its
(named, so de-duplicated) batch tasks.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime

from thoth.bucket.keys import source_prefix
from thoth.bucket.pointer import read_pointer
from thoth.errors import UnavailableError
from thoth.ingest.jobs import FileEntry, FileResult, Job, JobStatus, Plan
from thoth.ingest.pipeline.base_snapshot import local_snapshot, reusable
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.task_names import BATCH_PATH, FINALIZE_PATH, batch_task, finalize_task
from thoth.ingest.sources.registry import get_source
from thoth.ingest.sources.report import FileError
from thoth.ingest.sources.sync import sync_source
from thoth.parsing import is_supported
from thoth.paths import UnsafePathError, safe_relative_path

log = logging.getLogger(__name__)

BATCH_MAX_BYTES = 4_000_000


def plan_job(ctx: Context, job_id: str) -> Job:
    job, generation = ctx.jobs.get(job_id)
    if job.plan is None and not job.status.finished:
        ctx.jobs.renew_lease(job.source, job_id)
        config = get_source(ctx.store, job.source)
        seen_at = datetime.now(UTC)  # the ref's head is resolved after this moment
        report = sync_source(ctx.store, config, settings=ctx.settings, commit=job.commit)
        if report.incomplete:  # planning on a stale mirror would leave files behind
            raise MirrorIncomplete(report.incomplete)
        if report.commit is not None and job.commit is None:
            job.commit, job.commit_seen_at = report.commit, seen_at
        job.plan = build_plan(ctx, job)
        job.plan.web_url, job.plan.changes_from = report.web_url, report.changes_from
        job.plan.skipped += not_mirrored(report.errors)
        ctx.jobs.renew_lease(job.source, job_id)
        job.status = JobStatus.running
        ctx.jobs.save(job, generation)
        log.info("planned job", extra={"job_id": job_id, "batches": job.batch_count})
    if job.status == JobStatus.running:
        enqueue_work(ctx, job)
    return job


class MirrorIncomplete(UnavailableError):
    """The sync could not mirror every file (a failed download or write): retry the plan."""

    def __init__(self, errors: list[FileError]) -> None:
        first = "; ".join(f"{e.path}: {e.message}" for e in errors[:3])
        super().__init__(f"the sync could not mirror {len(errors)} file(s): {first}")


def enqueue_work(ctx: Context, job: Job) -> None:
    if job.batch_count == 0:
        ctx.tasks.enqueue(finalize_task(job.job_id), FINALIZE_PATH, {"job_id": job.job_id})
        return
    for index in range(job.batch_count):
        payload = {"job_id": job.job_id, "batch": index}
        ctx.tasks.enqueue(batch_task(job.job_id, index), BATCH_PATH, payload)


def build_plan(ctx: Context, job: Job) -> Plan:
    pointer, _ = read_pointer(ctx.store, job.source)
    base: dict[str, str] = {}
    reembed = job.full
    if pointer is not None:
        with local_snapshot(
            ctx.store, ctx.settings.cache_dir, job.source, pointer.version
        ) as base_snapshot:
            served = base_snapshot.documents_arrow(["path", "file_hash"]).to_pydict()
            base = dict(zip(served["path"], served["file_hash"], strict=True))
            # Chunks cut or embedded differently must not be carried beside new ones.
            reembed = reembed or not reusable(base_snapshot.manifest, ctx.settings)
    plan = Plan(base_version=pointer.version if pointer else None)
    todo: list[FileEntry] = []
    mirror = list_mirror(ctx, job.source, plan)
    for entry in mirror:
        if not is_supported(entry.path):
            plan.skipped.append(FileResult(path=entry.path, outcome="skipped"))
        elif entry.size > ctx.settings.max_file_bytes:
            plan.skipped.append(too_large(entry, ctx.settings.max_file_bytes))
        elif not reembed and base.get(entry.path) == entry.file_hash:
            plan.unchanged.append(entry)
        else:
            (plan.changed if entry.path in base else plan.added).append(entry.path)
            todo.append(entry)
    present = {entry.path for entry in mirror}
    plan.deleted = sorted(path for path in base if path not in present)
    plan.batches = cut_batches(todo, ctx.settings.batch_files)
    return plan


def list_mirror(ctx: Context, source: str, plan: Plan) -> list[FileEntry]:
    """The source's files in GCS; unsafe names (possible in direct uploads) are refused."""
    prefix = source_prefix(source)
    entries = []
    for obj in ctx.store.list_objects(prefix):
        raw = obj.key.removeprefix(prefix)
        try:
            path = safe_relative_path(raw)
        except UnsafePathError as exc:
            plan.skipped.append(FileResult(path=raw, outcome="failed", error=str(exc)))
            continue
        entries.append(FileEntry(path=path, file_hash=md5_hex(obj.md5), size=obj.size))
    return sorted(entries, key=lambda e: e.path)


def not_mirrored(errors: list[FileError]) -> list[FileResult]:
    """Files the sync left out for good reason (over the size limit, an unsafe name, a Git
    LFS object that could not be read), as this job's skipped files with their reason, as
    `too_large` names one (`thoth jobs` lists them); each path once (compare reports a
    changed file's old and new path)."""
    left_out = {error.path: error.message for error in errors if not error.retry}
    return [FileResult(path=path, outcome="skipped", error=why) for path, why in left_out.items()]


def cut_batches(files: list[FileEntry], max_files: int) -> list[list[FileEntry]]:
    batches: list[list[FileEntry]] = []
    current: list[FileEntry] = []
    size = 0
    for entry in files:
        if current and (len(current) >= max_files or size + entry.size > BATCH_MAX_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry.size
    if current:
        batches.append(current)
    return batches


def too_large(entry: FileEntry, limit: int) -> FileResult:
    error = f"file is {entry.size:,} bytes, over the {limit:,}-byte limit (THOTH_MAX_FILE_BYTES)"
    return FileResult(path=entry.path, outcome="skipped", error=error)


def md5_hex(md5_base64: str | None) -> str:
    return base64.b64decode(md5_base64).hex() if md5_base64 else ""
