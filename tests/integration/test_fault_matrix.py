"""The fault matrix: a failure at every step boundary of plan, batch and finalize, storage
errors on read and write, a job outliving its lease, two jobs racing to publish.

The real Cloud Tasks emulator delivers every task (and every retry, with its real
`X-CloudTasks-TaskRetryCount`) over HTTP to the real worker app under uvicorn, whose store
is fake-gcs-server behind `FaultyStore`. A "crash" is the delivery dying at that point
(an error instead of the operation); a SIGKILLed worker is the chaos test's business
(test_ingestion_faults.py). After each fault the invariants hold: every pointed-at version is
complete whenever it is looked at, the served index is the last successful job's, the job
ends succeeded or failed with a reason within its retry budget, the worker leaves no build
folder behind, and the next ingest runs.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.faults import FaultyStore, crash, ending, exactly, under
from tests.support.inprocess import FaultyTasks, wait_until, worker_in_thread
from tests.support.pipeline import current_chunks, wait_for_job
from tests.support.processes import free_port
from tests.support.stack import Emulator, cloud_tasks_emulator, stack_settings
from thoth.bucket.keys import (
    SNAPSHOT_MANIFEST,
    batch_done_key,
    batch_output_key,
    job_key,
    job_prefix,
    pointer_key,
    source_config_key,
    source_lock_key,
    source_prefix,
    versions_prefix,
)
from thoth.bucket.pointer import read_pointer
from thoth.bucket.store import BlobStore
from thoth.bucket.versions import uploaded_manifest
from thoth.config import Settings
from thoth.ingest.jobs import JobProgress, JobStatus
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.start import start_job
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import save_source
from thoth.ingest.tasks import TaskQueue

MAX_ATTEMPTS = 4
JOB_TIMEOUT = 120.0
ANY_JOB = "20260101t000000-00000000"


def in_any_job(key: str) -> str:
    """The part of a job's key after its prefix: matches that key in every job."""
    return key.removeprefix(job_prefix(ANY_JOB))


@dataclass
class Rig:
    worker: Context  # the worker's: its store and queue inject the faults
    store: FaultyStore
    tasks: FaultyTasks
    test: Context  # the test's own, fault-free
    roots: Path


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with cloud_tasks_emulator(log=tmp_path_factory.mktemp("logs") / "emulator.log") as running:
        yield running


@pytest.fixture(scope="module")
def rig(
    gcs_url: str, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rig]:
    with running_rig(gcs_url, emulator, tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def parts_rig(
    gcs_url: str, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rig]:
    """Every batch done in parts: the parse budget is spent after one file."""
    with running_rig(gcs_url, emulator, tmp_path_factory, batch_budget_seconds=1e-6) as running:
        yield running


@contextmanager
def running_rig(
    gcs_url: str, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory, **update: Any
) -> Iterator[Rig]:
    roots = tmp_path_factory.mktemp("roots")
    base = Settings(
        bucket=f"t-{uuid.uuid4().hex[:12]}",
        storage_emulator_host=gcs_url,
        cache_dir=tmp_path_factory.mktemp("worker-cache"),
        queue_max_attempts=MAX_ATTEMPTS,
        source_roots=[str(roots)],
    )
    port = free_port()
    settings = stack_settings(base, emulator, port).model_copy(update={"batch_files": 2, **update})
    store = FaultyStore(settings)
    store.ensure_bucket()
    tasks = FaultyTasks(TaskQueue(settings))
    worker = Context(settings, store, tasks)
    local = settings.model_copy(update={"cache_dir": tmp_path_factory.mktemp("test-cache")})
    test = Context(local, BlobStore.from_settings(local), TaskQueue(local))
    with worker_in_thread(worker, port):
        yield Rig(worker, store, tasks, test, roots)


# --- the faults ---------------------------------------------------------------------------
Arm = Callable[[Rig, str], None]


@dataclass(frozen=True)
class Fault:
    where: str
    arm: Arm
    outcome: JobStatus = JobStatus.succeeded
    reason: str = ""  # in the failed job's error


def on_store(operation: str, matches: Callable[[str], Callable[[str], bool]], **kw: object) -> Arm:
    def arm(rig: Rig, source: str) -> None:
        rig.store.fail(operation, matches(source), **kw)  # type: ignore[arg-type]

    return arm


def on_enqueue(name_part: str) -> Arm:
    def arm(rig: Rig, _: str) -> None:
        rig.tasks.fail_names.append(name_part)

    return arm


def folder_deleted(rig: Rig, source: str) -> None:
    for path in sorted((rig.roots / source).rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (rig.roots / source).rmdir()


OUTPUT, DONE = in_any_job(batch_output_key(ANY_JOB, 0)), in_any_job(batch_done_key(ANY_JOB, 0))
JOB_RECORD = in_any_job(job_key(ANY_JOB))
ALWAYS = 1_000

FAULTS = [
    # plan
    Fault("plan: storage 503 reading the source's registry entry",
          on_store("read", lambda s: exactly(source_config_key(s)))),
    Fault("plan: crash after the sync, saving the plan",
          on_store("write", lambda s: ending(JOB_RECORD), error=crash)),
    Fault("plan: crash after the plan is saved, before the batches are enqueued",
          on_enqueue("-batch-00000")),
    Fault("plan: storage 503 writing the mirror",
          on_store("write", lambda s: under(source_prefix(s)))),
    # batch
    Fault("batch: storage 503 reading a file",
          on_store("read", lambda s: under(source_prefix(s)))),
    Fault("batch: crash writing its output",
          on_store("write", lambda s: ending(OUTPUT), error=crash)),
    Fault("batch: crash after its output, before its done marker",
          on_store("write", lambda s: ending(DONE), error=crash)),
    Fault("batch: crash before enqueueing finalize", on_enqueue("-finalize")),
    # finalize
    Fault("finalize: storage 503 reading a batch output",
          on_store("read", lambda s: ending(OUTPUT))),
    Fault("finalize: crash part-way through the upload",
          on_store("upload", lambda s: under(versions_prefix(s)), skip=2, error=crash)),
    Fault("finalize: crash before the manifest is uploaded",
          on_store("upload", lambda s: ending(SNAPSHOT_MANIFEST), error=crash)),
    Fault("finalize: crash before the pointer swap",
          on_store("write", lambda s: exactly(pointer_key(s)), error=crash)),
    Fault("finalize: crash after the swap, recording success",
          on_store("write", lambda s: ending(JOB_RECORD), skip=1, error=crash)),
    # beyond the retry budget, or beyond any retry
    Fault("batch: output write fails on every attempt",
          on_store("write", lambda s: ending(OUTPUT), times=ALWAYS),
          JobStatus.failed, f"last of {MAX_ATTEMPTS} attempts"),
    Fault("finalize: upload fails on every attempt",
          on_store("upload", lambda s: under(versions_prefix(s)), skip=2, times=ALWAYS),
          JobStatus.failed, f"last of {MAX_ATTEMPTS} attempts"),
    Fault("finalize: pointer write fails on every attempt",
          on_store("write", lambda s: exactly(pointer_key(s)), times=ALWAYS),
          JobStatus.failed, f"last of {MAX_ATTEMPTS} attempts"),
    Fault("plan: the source folder was deleted", folder_deleted, JobStatus.failed,
          "does not exist"),
]  # fmt: skip


# --- the invariants -------------------------------------------------------------------------
class PointerWatch:
    """Looks at the pointer while a job runs: the version it names must always be complete."""

    def __init__(self, store: BlobStore, source: str) -> None:
        self.store, self.source = store, source
        self.torn: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> PointerWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.3):
            pointer, _ = read_pointer(self.store, self.source)
            if pointer and uploaded_manifest(self.store, self.source, pointer.version) is None:
                self.torn.append(pointer.version)


def new_source(rig: Rig, tmp: Path) -> str:
    name = f"m-{uuid.uuid4().hex[:8]}"
    folder = rig.roots / name
    for i in range(4):
        page = folder / f"team-{i % 2}" / f"page-{i}.md"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"# Page {i}\n\nTeam {i % 2} meets in room {100 + i} on Mondays.\n")
    save_source(rig.test.store, SourceConfig(name=name, kind="dir", directory=str(folder)))
    return name


def change_files(rig: Rig, source: str) -> None:
    folder = rig.roots / source
    (folder / "team-0" / "page-0.md").write_text("# Page 0\n\nTeam 0 moved to room 7.\n")
    (folder / "team-1" / "page-9.md").write_text("# Page 9\n\nA new page about lunch.\n")


def run_job(rig: Rig, source: str, full: bool = False) -> JobProgress:
    job = start_job(rig.test, source, full=full)
    return wait_for_job(rig.test, job.job_id, timeout=JOB_TIMEOUT)


def served_paths(rig: Rig, source: str, tmp: Path) -> set[str]:
    return {chunk.path for chunk in current_chunks(rig.test, source, tmp).values()}


def assert_next_ingest_runs(rig: Rig, source: str) -> None:
    rig.store.clear()
    rig.tasks.fail_names.clear()
    if (rig.roots / source).is_dir():
        assert run_job(rig, source).job.status == JobStatus.succeeded
    else:  # accepted, and fails again for the same clear reason
        again = run_job(rig, source)
        assert again.job.status == JobStatus.failed and "does not exist" in str(again.job.error)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.where for f in FAULTS])
def test_fault(rig: Rig, fault: Fault, tmp_path: Path) -> None:
    check_fault(rig, fault, tmp_path)


def part_key(name: str) -> str:
    """A key of batch 0's parts, in any job."""
    return in_any_job(batch_output_key(ANY_JOB, 0)).replace("output.npz", name)


PART_FAULTS = [
    Fault("parts: crash recording where a part ends",
          on_store("write", lambda s: ending(part_key("cut-00000.json")), error=crash)),
    Fault("parts: crash writing the first part's output",
          on_store("write", lambda s: ending(OUTPUT), error=crash)),
    Fault("parts: crash writing what the first part did",
          on_store("write", lambda s: ending(part_key("part-00000.json")), error=crash)),
    Fault("parts: crash before enqueueing the rest of the batch", on_enqueue("-from-")),
    Fault("parts: crash writing the last part's output",
          on_store("write", lambda s: ending(part_key("output-00001.npz")), error=crash)),
    Fault("parts: crash after the last part's output, before the done marker",
          on_store("write", lambda s: ending(DONE), error=crash)),
    Fault("parts: storage 503 reading a part's output in finalize",
          on_store("read", lambda s: ending(part_key("output-00001.npz")))),
]  # fmt: skip


@pytest.mark.parametrize("fault", PART_FAULTS, ids=[f.where for f in PART_FAULTS])
def test_fault_in_a_batch_done_in_parts(parts_rig: Rig, fault: Fault, tmp_path: Path) -> None:
    faulty = check_fault(parts_rig, fault, tmp_path)
    results = parts_rig.test.jobs.batch_results(faulty.job.job_id)
    assert [r.parts for r in results] == [list(range(len(r.files))) for r in results]
    assert any(len(r.parts) > 1 for r in results)


def check_fault(rig: Rig, fault: Fault, tmp_path: Path) -> JobProgress:
    source = new_source(rig, tmp_path)
    clean = run_job(rig, source)
    assert clean.job.status == JobStatus.succeeded
    change_files(rig, source)
    fault.arm(rig, source)
    with PointerWatch(rig.test.store, source) as watch:
        faulty = run_job(rig, source)
    assert watch.torn == []
    assert faulty.job.status == fault.outcome, faulty.job.error
    pointer, _ = read_pointer(rig.test.store, source)
    assert pointer is not None
    if fault.outcome == JobStatus.succeeded:
        assert pointer.version == faulty.job.job_id
        assert served_paths(rig, source, tmp_path) == {
            "team-0/page-0.md", "team-0/page-2.md", "team-1/page-1.md",
            "team-1/page-3.md", "team-1/page-9.md",
        }  # fmt: skip
        assert faulty.counts.changed == 1 and faulty.counts.added == 1
    else:
        assert fault.reason in str(faulty.job.error)
        assert pointer.version == clean.job.job_id  # the last successful job's index serves
        assert not rig.test.store.exists(source_lock_key(source))
    assert_no_build_folder(rig)
    assert_next_ingest_runs(rig, source)
    return faulty


def assert_no_build_folder(rig: Rig) -> None:
    """One left by a failed attempt would hold the instance's memory (Cloud Run's /tmp)
    until it stops."""
    assert list((rig.worker.settings.cache_dir / "build").glob("*")) == []


# --- leases and races -----------------------------------------------------------------------
def expire_lease(store: BlobStore, source: str) -> None:
    holder, generation = store.read_json(source_lock_key(source))
    holder["at"] = "2000-01-01T00:00:00+00:00"
    store.write_json(source_lock_key(source), holder, if_generation=generation)


def test_a_job_outliving_its_lease_fails_and_the_newer_index_stays(
    rig: Rig, tmp_path: Path
) -> None:
    source = new_source(rig, tmp_path)
    run_job(rig, source)
    change_files(rig, source)
    gate = threading.Event()
    rig.store.fail("write", ending(OUTPUT), gate=gate)  # the slow job's batch 0 hangs
    slow = start_job(rig.test, source)
    try:
        wait_until(lambda: rig.store.rules[0].fired == 1, 60, "the slow batch")
        expire_lease(rig.test.store, source)
        newer = run_job(rig, source, full=True)  # takes the source over
    finally:
        gate.set()
    assert newer.job.status == JobStatus.succeeded
    lost = wait_for_job(rig.test, slow.job_id, timeout=JOB_TIMEOUT)
    assert lost.job.status == JobStatus.failed and "lost its lease" in str(lost.job.error)
    pointer, _ = read_pointer(rig.test.store, source)
    assert pointer is not None and pointer.version == newer.job.job_id
    assert_no_build_folder(rig)
    assert_next_ingest_runs(rig, source)


def test_two_jobs_racing_to_publish_the_older_base_loses(rig: Rig, tmp_path: Path) -> None:
    source = new_source(rig, tmp_path)
    run_job(rig, source)
    change_files(rig, source)
    gate = threading.Event()
    rig.store.fail("write", exactly(pointer_key(source)), gate=gate)  # A stops at its swap
    first = start_job(rig.test, source)
    try:
        wait_until(lambda: rig.store.rules[0].fired == 1, JOB_TIMEOUT, "the first swap")
        expire_lease(rig.test.store, source)
        second = run_job(rig, source, full=True)
    finally:
        gate.set()
    assert second.job.status == JobStatus.succeeded
    loser = wait_for_job(rig.test, first.job_id, timeout=JOB_TIMEOUT)
    assert loser.job.status == JobStatus.failed
    assert "index is now at" in str(loser.job.error) or "lost its lease" in str(loser.job.error)
    pointer, _ = read_pointer(rig.test.store, source)
    assert pointer is not None and pointer.version == second.job.job_id
    assert_no_build_folder(rig)
    assert_next_ingest_runs(rig, source)
