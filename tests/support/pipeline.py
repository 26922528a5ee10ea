"""Helpers to drive and inspect ingestion jobs in tests."""

from __future__ import annotations

import time
from pathlib import Path

from thoth.bucket.pointer import read_pointer
from thoth.bucket.records import ChunkRecord
from thoth.bucket.snapshot import open_snapshot
from thoth.bucket.versions import download_version
from thoth.ingest.jobs import JobProgress
from thoth.ingest.pipeline.context import Context


def wait_for_job(ctx: Context, job_id: str, timeout: float = 240.0) -> JobProgress:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = ctx.jobs.progress(job_id)
        if progress.job.status.finished:
            return progress
        time.sleep(0.25)
    raise TimeoutError(f"job {job_id} did not finish in {timeout}s: {progress}")


def current_chunks(ctx: Context, source: str, workdir: Path) -> dict[str, ChunkRecord]:
    """The published index's chunks by id, read from a fresh download of the current version."""
    pointer, _ = read_pointer(ctx.store, source)
    assert pointer is not None, f"{source} has no index"
    target = workdir / f"{source}-{pointer.version}"
    if not target.exists():
        download_version(ctx.store, source, pointer.version, target)
    return {c.chunk_id: c for c in open_snapshot(target).chunks()}
