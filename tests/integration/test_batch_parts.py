"""A batch whose parsing outruns THOTH_BATCH_BUDGET_SECONDS is done in parts: through the real
worker and the Cloud Tasks emulator, and by hand for deliveries that race to cut a part."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.corpus import many_pages, write_corpus
from tests.support.pipeline import current_chunks, wait_for_job
from tests.support.processes import free_port
from tests.support.stack import Emulator, cloud_tasks_emulator, ingestion_worker, stack_settings
from tests.support.tasks import RecordingTasks
from thoth.bucket.keys import batch_cut_key, batch_output_key
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.jobs import BatchResult, JobStatus
from thoth.ingest.pipeline import batch as batch_module
from thoth.ingest.pipeline.batch import run_batch
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.outputs import decode_output
from thoth.ingest.pipeline.plan import plan_job
from thoth.ingest.pipeline.start import start_job
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import save_source
from thoth.ingest.sources.sync import upload_directory

TINY = 1e-6  # every part parses one file: the budget is spent before the second


def new_source(ctx: Context, folder: Path) -> str:
    name = f"s-{uuid.uuid4().hex[:8]}"
    save_source(ctx.store, SourceConfig(name=name, kind="upload", base_url="https://hb.example"))
    upload_directory(ctx.store, name, folder)
    return name


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with cloud_tasks_emulator(log=tmp_path_factory.mktemp("logs") / "emulator.log") as running:
        yield running


def test_a_batch_over_budget_is_done_in_parts_and_nothing_is_lost(
    gcs_url: str, emulator: Emulator, tmp_path: Path
) -> None:
    base = Settings(
        bucket=f"t-{uuid.uuid4().hex[:12]}",
        storage_emulator_host=gcs_url,
        cache_dir=tmp_path / "worker-cache",
        batch_budget_seconds=TINY,
    )
    port = free_port()
    settings = stack_settings(base, emulator, port)  # 4 files a batch
    store = BlobStore.from_settings(settings)
    store.ensure_bucket()
    pages = many_pages(7)
    with ingestion_worker(settings, port, log=tmp_path / "worker.log"):
        ctx = Context(settings, store, RecordingTasks())
        source = new_source(ctx, write_corpus(tmp_path / "corpus", pages))
        ctx = Context.from_settings(settings)
        job = start_job(ctx, source)
        progress = wait_for_job(ctx, job.job_id)

    assert progress.job.status == JobStatus.succeeded, progress.job.error
    assert progress.counts.added == 7 and progress.counts.failed == 0 and not progress.errors
    results = ctx.jobs.batch_results(job.job_id)
    assert [r.parts for r in results] == [[0, 1, 2, 3], [0, 1, 2]]
    assert [len(r.files) for r in results] == [4, 3]
    chunks = current_chunks(ctx, source, tmp_path / "read")
    assert {chunk.path for chunk in chunks.values()} == set(pages)


@pytest.fixture
def planned(settings: Settings, store: BlobStore, tmp_path: Path) -> tuple[Context, str]:
    """A job of one 4-file batch, planned, its tasks recorded instead of delivered."""
    settings = settings.model_copy(update={"batch_files": 4, "batch_budget_seconds": TINY})
    ctx = Context(settings, store, RecordingTasks())
    source = new_source(ctx, write_corpus(tmp_path / "corpus", many_pages(4)))
    job = start_job(ctx, source)
    plan_job(ctx, job.job_id)
    return ctx, job.job_id


def output_paths(ctx: Context, job_id: str, start: int) -> list[str]:
    documents, _ = decode_output(ctx.store.read(batch_output_key(job_id, 0, start))[0])
    return [document.path for document in documents]


def next_start(ctx: Context) -> int:
    assert isinstance(ctx.tasks, RecordingTasks)
    payloads = [payload for _, payload in ctx.tasks.tasks.values() if "start" in payload]
    return int(payloads[-1]["start"])


def test_each_part_hands_the_rest_on_until_the_batch_is_whole(
    planned: tuple[Context, str],
) -> None:
    ctx, job_id = planned
    files = [entry.path for entry in ctx.jobs.get(job_id)[0].plan.batches[0]]  # type: ignore[union-attr]
    start = 0
    for expected in range(3):
        part = run_batch(ctx, job_id, 0, start)
        assert part is not None and [f.path for f in part.files] == [files[expected]]
        assert output_paths(ctx, job_id, start) == [files[expected]]
        assert ctx.jobs.batch_results(job_id) == []  # not done while a part is left
        start = next_start(ctx)
        if expected == 0:
            # A retry of the first part, with all the time in the world, keeps to its cut.
            roomy = ctx.settings.model_copy(update={"batch_budget_seconds": 3600.0})
            again = run_batch(Context(roomy, ctx.store, ctx.tasks), job_id, 0, 0)
            assert again is not None and [f.path for f in again.files] == [files[0]]
            assert output_paths(ctx, job_id, 0) == [files[0]]
    whole = run_batch(ctx, job_id, 0, start)
    assert isinstance(whole, BatchResult) and whole.parts == [0, 1, 2, 3]
    assert [f.path for f in whole.files] == files and whole.chunks_embedded == 8
    assert ctx.jobs.batch_results(job_id) == [whole]
    assert run_batch(ctx, job_id, 0, 0) is None  # done: a late delivery does nothing


@pytest.mark.parametrize(("recorded", "budget"), [(3, TINY), (1, 3600.0)])
def test_a_delivery_that_loses_the_race_to_cut_keeps_to_the_winners_cut(
    planned: tuple[Context, str], monkeypatch: pytest.MonkeyPatch, recorded: int, budget: float
) -> None:
    """Another delivery of the same part recorded its cut after this one looked: whether
    that cut is later (this one parses on) or sooner (this one drops the rest), the output
    covers exactly the recorded part, and the rest is handed on from its end."""
    ctx, job_id = planned
    ctx.settings = ctx.settings.model_copy(update={"batch_budget_seconds": budget})
    files = [entry.path for entry in ctx.jobs.get(job_id)[0].plan.batches[0]]  # type: ignore[union-attr]
    ctx.store.write(batch_cut_key(job_id, 0, 0), f'{{"end": {recorded}}}'.encode())
    looked = iter([None])
    monkeypatch.setattr(batch_module, "read_cut", lambda *_: next(looked))

    result = run_batch(ctx, job_id, 0, 0)

    assert result is not None and [f.path for f in result.files] == files[:recorded]
    assert output_paths(ctx, job_id, 0) == files[:recorded]
    assert next_start(ctx) == recorded
