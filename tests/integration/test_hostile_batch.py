"""The review's hostile files through a real worker (real uvicorn, fake GCS, the Cloud Tasks
emulator): each fails alone with its reason, the ordinary files beside them are indexed, and
the worker's whole process tree (the worker and its parse children) stays under 1.5 GiB."""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.corpus import PAGES, write_corpus
from tests.support.hostile_files import HOSTILE
from tests.support.pipeline import current_chunks, wait_for_job
from tests.support.processes import free_port
from tests.support.stack import Worker, cloud_tasks_emulator, ingestion_worker, stack_settings
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.jobs import JobStatus
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.start import start_job
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import save_source
from thoth.ingest.sources.sync import upload_directory
from thoth.ingest.tasks import TaskQueue

TREE_CEILING = int(1.5 * 1024**3)


@pytest.fixture(scope="module")
def stack(
    gcs_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Context, Worker]]:
    logs = tmp_path_factory.mktemp("logs")
    base = Settings(
        bucket=f"t-{uuid.uuid4().hex[:12]}",
        storage_emulator_host=gcs_url,
        cache_dir=tmp_path_factory.mktemp("worker-cache"),
    )
    port = free_port()
    with cloud_tasks_emulator(log=logs / "emulator.log") as emulator:
        settings = stack_settings(base, emulator, port)
        store = BlobStore.from_settings(settings)
        store.ensure_bucket()
        with ingestion_worker(settings, port, log=logs / "worker.log") as worker:
            local = settings.model_copy(update={"cache_dir": tmp_path_factory.mktemp("test-cache")})
            yield Context(local, store, TaskQueue(local)), worker


class TreeRss:
    """Samples the RSS of a process and all its descendants every 50 ms; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = self.peak_children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            children = 0
            with contextlib.suppress(psutil.Error):
                for child in self.root.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        children += child.memory_info().rss
                total = self.root.memory_info().rss + children
                self.peak = max(self.peak, total)
                self.peak_children = max(self.peak_children, children)


def test_hostile_files_fail_alone_and_the_worker_stays_small(
    stack: tuple[Context, Worker], tmp_path: Path
) -> None:
    ctx, worker = stack
    corpus = write_corpus(tmp_path / "corpus")
    for path, (make, _) in HOSTILE.items():
        (corpus / path).parent.mkdir(parents=True, exist_ok=True)
        (corpus / path).write_bytes(make())
    source = f"s-{uuid.uuid4().hex[:8]}"
    save_source(ctx.store, SourceConfig(name=source, kind="upload"))
    upload_directory(ctx.store, source, corpus)

    started = time.perf_counter()
    with TreeRss(worker.process.pid) as tree:
        progress = wait_for_job(ctx, start_job(ctx, source).job_id, timeout=600)
    seconds = time.perf_counter() - started

    assert progress.job.status == JobStatus.succeeded, progress
    errors = {e.path: e.error or "" for e in progress.errors}
    for path, (_, reason) in HOSTILE.items():
        assert re.search(reason, errors.get(path, "")), (path, errors.get(path))
    indexed = {chunk.path for chunk in current_chunks(ctx, source, tmp_path).values()}
    assert indexed == set(PAGES)
    print(
        f"\njob {seconds:.1f} s; worker tree peak RSS {tree.peak / 2**20:.0f} MiB "
        f"(parse children at most {tree.peak_children / 2**20:.0f} MiB)"
    )
    for path in HOSTILE:
        print(f"  {path}: {errors[path]}")
    assert tree.peak < TREE_CEILING
