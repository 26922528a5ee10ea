"""At-least-once delivery, crashes and races: the index must come out as a clean run's.

Through the real Cloud Tasks emulator (its fault injection switched on at run time) and a real
worker process, which the chaos test kills in the middle of a job."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.support.corpus import many_pages, write_corpus
from tests.support.pipeline import current_chunks, wait_for_job
from tests.support.processes import free_port
from tests.support.stack import (
    Emulator,
    cloud_tasks_emulator,
    fronted_worker,
    ingestion_worker,
    stack_settings,
)
from tests.support.tasks import RecordingTasks
from thoth.bucket.keys import batch_output_key, version_prefix
from thoth.bucket.pointer import read_pointer
from thoth.bucket.records import ChunkRecord
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.jobs import Job, JobStatus, JobStore, LeaseLost
from thoth.ingest.pipeline import finalize as finalize_module
from thoth.ingest.pipeline.batch import run_batch
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.finalize import NotReady, finalize_job
from thoth.ingest.pipeline.plan import plan_job
from thoth.ingest.pipeline.start import start_job
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import save_source
from thoth.ingest.sources.sync import upload_directory
from thoth.ingest.tasks import TaskQueue

Stack = tuple[Context, Emulator, Settings, int]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    log = tmp_path_factory.mktemp("logs") / "emulator.log"
    with cloud_tasks_emulator("--fault-seed", "7", log=log) as running:
        yield running


@pytest.fixture(scope="module")
def stack(
    gcs_url: str, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    base = Settings(
        bucket=f"t-{uuid.uuid4().hex[:12]}",
        storage_emulator_host=gcs_url,
        cache_dir=tmp_path_factory.mktemp("worker-cache"),
    )
    port = free_port()
    settings = stack_settings(base, emulator, port).model_copy(update={"batch_files": 2})
    store = BlobStore.from_settings(settings)
    store.ensure_bucket()
    local = settings.model_copy(update={"cache_dir": tmp_path_factory.mktemp("test-cache")})
    yield Context(local, store, TaskQueue(local)), emulator, settings, port


def set_faults(emulator: Emulator, **faults: float) -> None:
    body = {"duplicate": 1, "fail_after_response": 0.0, "delay_max": 0.0, **faults}
    answer = httpx.post(f"{emulator.http_url}/faults", json=body, timeout=10)
    answer.raise_for_status()


def new_source(ctx: Context, directory: Path) -> str:
    name = f"s-{uuid.uuid4().hex[:8]}"
    save_source(ctx.store, SourceConfig(name=name, kind="upload"))
    upload_directory(ctx.store, name, directory)
    return name


def assert_same_index(got: dict[str, ChunkRecord], want: dict[str, ChunkRecord]) -> None:
    assert got.keys() == want.keys()
    for chunk_id, chunk in want.items():
        assert got[chunk_id].text == chunk.text
        assert np.allclose(got[chunk_id].vector, chunk.vector, atol=1e-5)


def test_duplicated_and_failed_deliveries_give_the_clean_index(
    stack: Stack, tmp_path: Path
) -> None:
    ctx, emulator, settings, port = stack
    corpus = write_corpus(tmp_path / "corpus", many_pages(10))
    source = new_source(ctx, corpus)
    with ingestion_worker(settings, port, log=tmp_path / "worker.log"):
        set_faults(emulator)
        clean = wait_for_job(ctx, start_job(ctx, source).job_id)
        want = current_chunks(ctx, source, tmp_path / "clean")
        set_faults(emulator, duplicate=2, fail_after_response=0.3)
        try:
            faulty = wait_for_job(ctx, start_job(ctx, source, full=True).job_id)
        finally:
            set_faults(emulator)
    assert clean.job.status == faulty.job.status == JobStatus.succeeded
    assert faulty.counts.changed == 10 and faulty.counts.added == 0
    assert faulty.counts.chunks_embedded == clean.counts.chunks_embedded == len(want)
    assert_same_index(current_chunks(ctx, source, tmp_path / "faulty"), want)


def test_chaos_worker_killed_mid_job(stack: Stack, tmp_path: Path) -> None:
    """Issue 7's chaos run, through Cloud Run's front door with IAM on: every task twice, 30 %
    of deliveries failed after the worker answered, and the worker's container killed in the
    middle of the job (the door starts a new one for the next delivery, as Cloud Run does)."""
    ctx, emulator, settings, port = stack
    corpus = write_corpus(tmp_path / "corpus", many_pages(24))
    source = new_source(ctx, corpus)
    with fronted_worker(settings, port, emulator, tmp_path / "door-clean"):
        set_faults(emulator)
        wait_for_job(ctx, start_job(ctx, source).job_id)
    want = current_chunks(ctx, source, tmp_path / "clean")

    set_faults(emulator, duplicate=2, fail_after_response=0.3)
    try:
        with fronted_worker(settings, port, emulator, tmp_path / "door-chaos") as worker:
            job = start_job(ctx, source, full=True)
            _wait_batches(ctx.jobs, job.job_id, at_least=2)
            killed = worker.container_pids()
            assert killed
            for pid in killed:  # every instance at once: none is left to finish the job
                os.kill(pid, signal.SIGKILL)
            result = wait_for_job(ctx, job.job_id)
            finished = worker.container_pids()
            assert finished and not finished & killed  # new instances finished the job
    finally:
        set_faults(emulator)
    assert result.job.status == JobStatus.succeeded
    assert result.counts.changed == 24 and result.counts.failed == 0
    assert_same_index(current_chunks(ctx, source, tmp_path / "chaos"), want)


def test_batch_that_dies_after_writing_its_output_is_redone(
    settings: Settings, store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = Context(settings.model_copy(update={"batch_files": 3}), store, RecordingTasks())
    source = new_source(ctx, write_corpus(tmp_path / "corpus", many_pages(6)))
    job = start_job(ctx, source)
    plan_job(ctx, job.job_id)

    real_mark = JobStore.mark_batch_done
    calls = {"n": 0}

    def crash_once(self: JobStore, job_id: str, result: object) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("killed after the output was written")
        return real_mark(self, job_id, result)  # type: ignore[arg-type]

    monkeypatch.setattr(JobStore, "mark_batch_done", crash_once)
    with pytest.raises(RuntimeError):
        run_batch(ctx, job.job_id, 0)
    assert store.exists(batch_output_key(job.job_id, 0))  # half done: output, no marker
    with pytest.raises(NotReady):
        finalize_job(ctx, job.job_id)
    first = run_batch(ctx, job.job_id, 0)
    assert first is not None and first.chunks_embedded > 0
    assert run_batch(ctx, job.job_id, 0) is None  # a third delivery does nothing
    assert run_batch(ctx, job.job_id, 1) is not None
    done = finalize_job(ctx, job.job_id)
    assert done.status == JobStatus.succeeded
    assert done.counts is not None and done.counts.added == 6
    chunks = current_chunks(ctx, source, tmp_path / "index")
    assert len(chunks) == done.counts.chunks_total == done.counts.chunks_embedded
    assert len({c.path for c in chunks.values()}) == 6


def job_ready_to_finalize(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> tuple[Context, str, Job]:
    """A job of six pages in two batches, planned and embedded, its tasks run by hand."""
    ctx = Context(settings.model_copy(update={"batch_files": 3}), store, RecordingTasks())
    source = new_source(ctx, write_corpus(tmp_path / "corpus", many_pages(6)))
    job = start_job(ctx, source)
    plan_job(ctx, job.job_id)
    for batch in range(2):
        run_batch(ctx, job.job_id, batch)
    return ctx, source, job


def test_racing_finalizes_publish_once_and_readers_never_see_a_torn_index(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    ctx, source, job = job_ready_to_finalize(settings, store, tmp_path)

    outcomes: list[object] = []
    torn: list[str] = []
    stop = threading.Event()

    def finalize() -> None:
        try:
            outcomes.append(finalize_job(ctx, job.job_id).status)
        except NotReady as exc:
            outcomes.append(exc)

    def reader() -> None:
        seen = 0
        while not stop.is_set():
            pointer, _ = read_pointer(store, source)
            if pointer is None:
                continue
            try:
                chunks = current_chunks(ctx, source, tmp_path / f"read-{seen}")
            except Exception as exc:  # any failure to read a pointed-at version is a tear
                torn.append(repr(exc))
                return
            if len(chunks) != pointer.chunks:
                torn.append(f"{pointer.version}: {len(chunks)} != {pointer.chunks}")
            seen += 1

    threads = [threading.Thread(target=finalize) for _ in range(2)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finalize()  # a late duplicate after success is harmless
    stop.set()
    watcher.join()
    assert torn == []
    assert outcomes.count(JobStatus.succeeded) >= 2  # the winner and the late duplicate
    pointer, _ = read_pointer(store, source)
    assert pointer is not None and pointer.version == job.job_id


def _wait_batches(jobs: JobStore, job_id: str, at_least: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if jobs.batches_done(job_id) >= at_least:
            return
        time.sleep(0.1)
    raise TimeoutError(f"{job_id}: fewer than {at_least} batches done in {timeout}s")


def test_a_job_cancelled_while_its_version_uploads_leaves_no_version_behind(
    settings: Settings, store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`thoth cancel` during finalize's upload: the job must not publish, and what it uploaded
    must go (a source removed right after the cancel would otherwise get a version back)."""
    ctx, source, job = job_ready_to_finalize(settings, store, tmp_path)
    real_upload = finalize_module.upload_version

    def cancelled_meanwhile(*args: Any) -> None:
        real_upload(*args)
        ctx.jobs.fail(job.job_id, "cancelled by `thoth cancel`")

    monkeypatch.setattr(finalize_module, "upload_version", cancelled_meanwhile)
    with pytest.raises(LeaseLost):
        finalize_job(ctx, job.job_id)
    assert list(store.list_objects(version_prefix(source, job.job_id))) == []
    assert read_pointer(store, source)[0] is None


def test_a_file_grown_over_the_size_limit_leaves_the_index_though_nothing_else_changed(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    """It is skipped, so neither changed nor deleted: the job must still publish a version
    without it rather than keep serving its old text."""
    ctx, source, job = job_ready_to_finalize(settings, store, tmp_path)
    finalize_job(ctx, job.job_id)
    pages = sorted((tmp_path / "corpus").rglob("*.md"))
    limit = max(page.stat().st_size for page in pages) + 1000
    pages[0].write_text(pages[0].read_text() + "x" * 2000)
    upload_directory(ctx.store, source, tmp_path / "corpus")
    small = Context(ctx.settings.model_copy(update={"max_file_bytes": limit}), store, ctx.tasks)
    again = start_job(small, source)
    plan_job(small, again.job_id)
    done = finalize_job(small, again.job_id)  # no batch: nothing to embed
    assert done.counts is not None and done.counts.skipped == 1
    assert done.status == JobStatus.succeeded and done.version == again.job_id
    paths = {c.path for c in current_chunks(ctx, source, tmp_path / "index").values()}
    assert len(paths) == 5 and pages[0].relative_to(tmp_path / "corpus").as_posix() not in paths
