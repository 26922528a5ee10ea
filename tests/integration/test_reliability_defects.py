"""One test per reliability defect the review reproduced (nothing lost, nothing stuck). Each
drives the pipeline's own steps against the real fake-gcs-server, with storage faults from
`tests.support.faults`, and failed on the code before the fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.corpus import many_pages, write_corpus
from tests.support.faults import FaultyStore, crash, exactly, under
from tests.support.pipeline import current_chunks
from tests.support.tasks import RecordingTasks
from thoth.bucket.keys import (
    batch_done_key,
    finalize_claim_key,
    job_key,
    source_key,
    source_lock_key,
    version_prefix,
)
from thoth.bucket.pointer import read_pointer
from thoth.bucket.versions import collect_garbage, list_versions
from thoth.config import Settings
from thoth.ingest.jobs import JobStatus
from thoth.ingest.pipeline.batch import run_batch
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.failure import job_fails_for_good
from thoth.ingest.pipeline.finalize import finalize_job
from thoth.ingest.pipeline.plan import plan_job
from thoth.ingest.pipeline.start import start_job
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import save_source
from thoth.ingest.sources.sync import upload_directory


@pytest.fixture
def faulty(settings: Settings) -> FaultyStore:
    store = FaultyStore(settings)
    store.ensure_bucket()
    return store


def pipeline(
    settings: Settings, store: FaultyStore, files: int, tmp_path: Path
) -> tuple[Context, str]:
    ctx = Context(settings.model_copy(update={"batch_files": 2}), store, RecordingTasks())
    source = "handbook"
    save_source(store, SourceConfig(name=source, kind="upload"))
    upload_directory(store, source, write_corpus(tmp_path / "corpus", many_pages(files)))
    return ctx, source


def run_all_batches(ctx: Context, job_id: str) -> None:
    job, _ = ctx.jobs.get(job_id)
    for batch in range(job.batch_count):
        run_batch(ctx, job_id, batch)


def deliver(
    ctx: Context, job_id: str, step: Callable[..., object], *args: object
) -> Exception | None:
    """One first delivery as the worker handles it: an error is an answer, not the end, and
    one no retry can fix ends the job."""
    try:
        with job_fails_for_good(ctx, job_id, retry_count=0):
            step(ctx, job_id, *args)
    except Exception as exc:
        return exc
    return None


def test_finalize_retried_after_the_swap_leaves_the_live_version_whole(
    settings: Settings, faulty: FaultyStore, tmp_path: Path
) -> None:
    """Defect 1: the retry must not delete or re-upload the version the pointer names."""
    ctx, source = pipeline(settings, faulty, 4, tmp_path)
    job = start_job(ctx, source)
    plan_job(ctx, job.job_id)
    run_all_batches(ctx, job.job_id)
    faulty.fail("write", exactly(job_key(job.job_id)), error=crash)  # dies after the swap
    assert isinstance(deliver(ctx, job.job_id, finalize_job), Exception)
    pointer, _ = read_pointer(faulty, source)
    assert pointer is not None and pointer.version == job.job_id
    faulty.delete(finalize_claim_key(job.job_id))  # the dead delivery's claim has run out
    faulty.fail("upload", under(version_prefix(source, job.job_id)), skip=1)  # GCS flakes
    deliver(ctx, job.job_id, finalize_job)
    served = current_chunks(ctx, source, tmp_path / "served")  # the live version is whole
    assert len(served) == pointer.chunks
    done = finalize_job(ctx, job.job_id)
    assert done.status == JobStatus.succeeded


def test_a_failed_finalize_lets_the_next_delivery_retry_at_once(
    settings: Settings, faulty: FaultyStore, tmp_path: Path
) -> None:
    """Defect 2: a finalize that failed must not keep its claim for 20 minutes."""
    ctx, source = pipeline(settings, faulty, 2, tmp_path)
    job = start_job(ctx, source)
    plan_job(ctx, job.job_id)
    run_all_batches(ctx, job.job_id)
    faulty.fail("upload", under(version_prefix(source, job.job_id)))  # one 503
    assert isinstance(deliver(ctx, job.job_id, finalize_job), Exception)
    assert finalize_job(ctx, job.job_id).status == JobStatus.succeeded  # the retry, now


def test_a_transient_read_error_fails_the_batch_not_the_file(
    settings: Settings, faulty: FaultyStore, tmp_path: Path
) -> None:
    """Defect 4: a 503 reading one file must make Cloud Tasks retry the batch."""
    ctx, source = pipeline(settings, faulty, 2, tmp_path)
    job = start_job(ctx, source)
    plan_job(ctx, job.job_id)
    first = ctx.jobs.get(job.job_id)[0].plan.batches[0][0].path  # type: ignore[union-attr]
    faulty.fail("read", exactly(source_key(source, first)))
    assert isinstance(deliver(ctx, job.job_id, run_batch, 0), Exception)
    assert not faulty.exists(batch_done_key(job.job_id, 0))
    result = run_batch(ctx, job.job_id, 0)  # the retry
    assert result is not None and all(f.outcome == "indexed" for f in result.files)


def test_a_job_that_outlived_its_lease_cannot_move_the_index_back(
    settings: Settings, faulty: FaultyStore, tmp_path: Path
) -> None:
    """Defect 5: slow job A, whose lock was taken over, must not replace newer job B."""
    ctx, source = pipeline(settings, faulty, 2, tmp_path)
    slow = start_job(ctx, source)
    plan_job(ctx, slow.job_id)
    _expire_lease(faulty, source)
    fast = start_job(ctx, source, full=True)
    plan_job(ctx, fast.job_id)
    run_all_batches(ctx, fast.job_id)
    assert finalize_job(ctx, fast.job_id).status == JobStatus.succeeded
    deliver(ctx, slow.job_id, run_all_batches)
    deliver(ctx, slow.job_id, finalize_job)
    pointer, _ = read_pointer(faulty, source)
    assert pointer is not None and pointer.version == fast.job_id
    outcome = ctx.jobs.get(slow.job_id)[0]
    assert outcome.status == JobStatus.failed
    assert outcome.error is not None and "lost its lease" in outcome.error
    assert start_job(ctx, source).job_id  # and the source is free for the next ingest


def test_garbage_collection_spares_an_upload_in_progress(
    settings: Settings, faulty: FaultyStore, tmp_path: Path
) -> None:
    """Defect 5: an incomplete version younger than the grace period is someone's upload."""
    ctx, source = pipeline(settings, faulty, 2, tmp_path)
    old = start_job(ctx, source)
    plan_job(ctx, old.job_id)
    run_all_batches(ctx, old.job_id)
    partial_version = "20000101t000000-0badcafe"  # older than the newest complete version
    faulty.write(version_prefix(source, partial_version) + "chunks.lance/data/0.lance", b"x")
    finalize_job(ctx, old.job_id)
    collect_garbage(faulty, source, keep=5)
    versions = {v.version: v for v in list_versions(faulty, source)}
    assert partial_version in versions and not versions[partial_version].complete


def _expire_lease(store: FaultyStore, source: str) -> None:
    key = source_lock_key(source)
    holder, generation = store.read_json(key)
    for field in ("at", "expires_at"):
        if field in holder:
            holder[field] = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    store.write(key, json.dumps(holder).encode(), if_generation=generation)
