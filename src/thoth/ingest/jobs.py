"""Ingestion jobs: the record in GCS, the per-source lease, progress assembled from batch markers.

`jobs/<id>/job.json` is written by the planner and by finalize (compare-and-swap). Batches
never touch it: each writes its own create-only `done.json`, so progress needs no contention.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from thoth.bucket.keys import (
    JOBS_ROOT,
    batch_done_key,
    batches_prefix,
    is_batch_done_key,
    job_from_prefix,
    job_key,
    source_lock_key,
)
from thoth.bucket.store import BlobStore, NotFound, PreconditionFailed
from thoth.errors import ConflictError

DEFAULT_LEASE = timedelta(minutes=30)


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.succeeded, JobStatus.failed)


class FileEntry(BaseModel):
    path: str
    file_hash: str
    size: int = Field(ge=0)


FileOutcome = Literal["indexed", "skipped", "failed"]


class FileResult(BaseModel):
    path: str
    outcome: FileOutcome
    chunks: int = 0
    error: str | None = None


class PartResult(BaseModel):
    """What one part of a batch did (a batch done in one go is its only part)."""

    files: list[FileResult]
    chunks_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0


class BatchResult(PartResult):
    """What `done.json` says: written once, when a batch's output is safely in GCS. A batch
    whose work outran its budget was done in parts (thoth.ingest.pipeline.parts): `parts`
    are their first files' places, each part's output written under its own key."""

    batch: int
    parts: list[int] = Field(default_factory=lambda: [0])


class Plan(BaseModel):
    """What the job will do, decided once by comparing the mirror with the current snapshot."""

    base_version: str | None = None
    batches: list[list[FileEntry]] = Field(default_factory=list)
    added: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    unchanged: list[FileEntry] = Field(default_factory=list)
    skipped: list[FileResult] = Field(default_factory=list)
    web_url: str | None = None  # the GitLab project's page, for permalinks
    changes_from: str = ""  # how the sync found the changed files (SyncReport.changes_from)


class Counts(BaseModel):
    added: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    chunks_embedded: int = 0
    chunks_total: int = 0


class Job(BaseModel):
    job_id: str
    source: str
    full: bool = False
    # The source's commit the job ingests (GitLab): given by a push, else the ref's head
    # when the job is planned; and when that commit was the newest the job knew of.
    commit: str | None = None
    commit_seen_at: datetime | None = None
    status: JobStatus = JobStatus.queued
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    plan: Plan | None = None
    version: str | None = None
    error: str | None = None
    counts: Counts | None = None
    errors: list[FileResult] = Field(default_factory=list)

    @property
    def batch_count(self) -> int:
        return len(self.plan.batches) if self.plan else 0


class JobProgress(BaseModel):
    """A job as the API shows it: the record plus what its batches have reported so far."""

    job: Job
    batches_total: int
    batches_done: int
    counts: Counts
    errors: list[FileResult]


JOB_ID_PATTERN = r"^[0-9]{8}t[0-9]{6}-[0-9a-f]{8}$"  # what new_job_id makes


def new_job_id(now: datetime | None = None) -> str:
    """Sortable by creation time, unique by a random tail, valid as a Cloud Tasks task id."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dt%H%M%S")
    return f"{stamp}-{secrets.token_hex(4)}"


DONE_CACHE_JOBS = 32  # jobs whose batch results a JobStore remembers


class JobStore:
    """Jobs and locks in the bucket."""

    def __init__(self, store: BlobStore, lease: timedelta = DEFAULT_LEASE) -> None:
        self.store = store
        self.lease = lease
        # Done markers are create-only, so one read is final. Progress polls then read only
        # the markers that are new since the last poll: re-reading all 69 of a 51k-chunk job
        # took ~0.2 s per poll and, on 2 vCPUs, slowed the encoding it was watching.
        self._done: OrderedDict[str, dict[str, BatchResult]] = OrderedDict()
        self._done_lock = threading.Lock()  # progress polls and finalize share it

    def create(self, job: Job) -> None:
        if not self.store.create_only(job_key(job.job_id), job.model_dump_json().encode()):
            raise PreconditionFailed(job_key(job.job_id))

    def get(self, job_id: str) -> tuple[Job, int]:
        try:
            data, generation = self.store.read(job_key(job_id))
        except NotFound:
            raise UnknownJobError(job_id) from None
        return Job.model_validate_json(data), generation

    def save(self, job: Job, generation: int) -> int:
        job.updated_at = datetime.now(UTC)
        saved = self.store.write(
            job_key(job.job_id),
            job.model_dump_json().encode(),
            if_generation=generation,
            content_type="application/json",
        )
        if job.status.finished:  # its record holds the counts now: no more reads of markers
            with self._done_lock:
                self._done.pop(job.job_id, None)
        return saved

    def fail(self, job_id: str, reason: str) -> Job:
        """Mark an unfinished job failed and release its source (cancel, or orphaned by a
        lost queue). A finished job is returned unchanged."""
        for _ in range(5):
            job, generation = self.get(job_id)
            if job.status.finished:
                return job
            job.status, job.error = JobStatus.failed, reason
            try:
                self.save(job, generation)
            except PreconditionFailed:
                continue
            self.release_lock(job.source, job_id)
            return job
        raise PreconditionFailed(f"job {job_id} kept changing; try again")

    def unfinished(self, limit: int = 500) -> list[Job]:
        jobs = (self.get(job_id)[0] for job_id in self.list_ids(limit))
        return [job for job in jobs if not job.status.finished]

    def list_ids(self, limit: int = 50) -> list[str]:
        ids = [job_from_prefix(p) for p in self.store.list_prefixes(JOBS_ROOT)]
        return sorted(ids, reverse=True)[:limit]

    # --- batch markers --------------------------------------------------------------
    def mark_batch_done(self, job_id: str, result: BatchResult) -> bool:
        """True when this call recorded the batch; False when a delivery before it did."""
        return self.store.create_only(
            batch_done_key(job_id, result.batch), result.model_dump_json().encode()
        )

    def batch_results(self, job_id: str) -> list[BatchResult]:
        with self._done_lock:
            known = dict(self._done.get(job_id, {}))
        for obj in self.store.list_objects(batches_prefix(job_id)):
            if is_batch_done_key(obj.key) and obj.key not in known:
                data, _ = self.store.read(obj.key)
                known[obj.key] = BatchResult.model_validate_json(data)
        with self._done_lock:
            self._done[job_id] = known
            self._done.move_to_end(job_id)
            while len(self._done) > DONE_CACHE_JOBS:
                self._done.popitem(last=False)
        return sorted(known.values(), key=lambda r: r.batch)

    def batches_done(self, job_id: str) -> int:
        keys = self.store.list_objects(batches_prefix(job_id))
        return sum(1 for obj in keys if is_batch_done_key(obj.key))

    def progress(self, job_id: str) -> JobProgress:
        job, _ = self.get(job_id)
        if job.counts is not None:
            return JobProgress(
                job=job,
                batches_total=job.batch_count,
                batches_done=job.batch_count if job.status.finished else 0,
                counts=job.counts,
                errors=job.errors,
            )
        results = self.batch_results(job_id)
        counts, errors = tally(job.plan, results)
        return JobProgress(
            job=job,
            batches_total=job.batch_count,
            batches_done=len(results),
            counts=counts,
            errors=errors,
        )

    # --- the per-source lease -------------------------------------------------------
    def acquire_lock(self, source: str, job_id: str) -> str | None:
        """Take the source's lease for job_id. Returns None on success, else the holder's job
        id. A lease whose job has finished or vanished, or that nobody renewed within the
        lease time, is taken over."""
        key = source_lock_key(source)
        for _ in range(3):
            if self.store.create_only(key, self._lease_payload(job_id)):
                return None
            try:
                holder, generation = self.store.read_json(key)
            except NotFound:
                continue
            if not self._lock_is_stale(holder):
                return str(holder.get("job_id"))
            try:
                self.store.write(key, self._lease_payload(job_id), if_generation=generation)
            except PreconditionFailed:
                continue
            self._superseded(str(holder.get("job_id", "")), job_id)
            return None
        return "unknown"

    def _superseded(self, previous: str, successor: str) -> None:
        """Mark failed a job whose lapsed lease another took over. A worker stopped during a
        task's last attempt (out of memory) records nothing, and its job would read as
        running for ever; one whose task merely hangs finds itself failed when it returns."""
        with contextlib.suppress(NotFound, PreconditionFailed):  # the takeover stands anyway
            if not self.get(previous)[0].status.finished:
                minutes = int(self.lease.total_seconds() // 60)
                self.fail(
                    previous,
                    f"lost its lease to job {successor}: not renewed for {minutes} min (a task "
                    "hung, or the worker running it was stopped, e.g. out of memory)",
                )

    def holder(self, source: str) -> str | None:
        """The job that holds the source's lease now, or None when a new job could take it."""
        try:
            holder, _ = self.store.read_json(source_lock_key(source))
        except NotFound:
            return None
        return None if self._lock_is_stale(holder) else str(holder.get("job_id"))

    def renew_lease(self, source: str, job_id: str) -> None:
        """Extend job_id's lease on the source (each task does, at its start and before it
        commits anything). Raises LeaseLost when another job took the source over or the
        lease was released: the caller must stop."""
        key = source_lock_key(source)
        for _ in range(5):
            try:
                holder, generation = self.store.read_json(key)
            except NotFound:
                raise LeaseLost(source, job_id, None) from None
            if holder.get("job_id") != job_id:
                raise LeaseLost(source, job_id, str(holder.get("job_id")))
            if self._renewed_within(holder, self.lease / 10):
                return  # fresh enough: spare concurrent batches a write on one object
            try:
                self.store.write(key, self._lease_payload(job_id), if_generation=generation)
                return
            except PreconditionFailed:
                continue  # a sibling task renewed it first; look again
        raise LeaseLost(source, job_id, "unknown (the lease kept changing)")

    def release_lock(self, source: str, job_id: str) -> None:
        key = source_lock_key(source)
        try:
            holder, generation = self.store.read_json(key)
        except NotFound:
            return
        if holder.get("job_id") == job_id:
            with contextlib.suppress(PreconditionFailed):
                self.store.delete(key, if_generation=generation)

    def _lease_payload(self, job_id: str) -> bytes:
        return json.dumps({"job_id": job_id, "at": datetime.now(UTC).isoformat()}).encode()

    def _renewed_within(self, holder: dict[str, str], window: timedelta) -> bool:
        try:
            at = datetime.fromisoformat(holder["at"])
        except (KeyError, ValueError):
            return False
        return datetime.now(UTC) - at <= window

    def _lock_is_stale(self, holder: dict[str, str]) -> bool:
        if not self._renewed_within(holder, self.lease):
            return True
        try:
            job, _ = self.get(holder.get("job_id", ""))
        except NotFound:
            return True
        return job.status.finished


class UnknownJobError(NotFound):
    """No such job. A NotFound, so callers that catch that keep working."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id[:100]!r} not found")


class LeaseLost(ConflictError):
    """The job no longer holds its source: it was cancelled, failed, or (after its lease
    expired) another job took the source over. No retry can give the lease back."""

    always_permanent = True

    def __init__(self, source: str, job_id: str, holder: str | None) -> None:
        now = f"job {holder} holds it now" if holder else "the lease was released"
        super().__init__(f"job {job_id} lost its lease on source {source!r}: {now}")


def tally(plan: Plan | None, results: list[BatchResult]) -> tuple[Counts, list[FileResult]]:
    """Counts and per-file errors from the plan and the batches reported so far."""
    if plan is None:
        return Counts(), []
    counts = Counts(deleted=len(plan.deleted), unchanged=len(plan.unchanged))
    added, changed = set(plan.added), set(plan.changed)
    files = [f for result in results for f in result.files]
    for file in [*plan.skipped, *files]:
        if file.outcome == "indexed":
            counts.added += file.path in added
            counts.changed += file.path in changed
        elif file.outcome == "skipped":
            counts.skipped += 1
        else:
            counts.failed += 1
    counts.chunks_embedded = sum(result.chunks_embedded for result in results)
    errors = [f for f in [*plan.skipped, *files] if f.error]
    return counts, errors
