"""A batch longer than Cloud Run's request timeout, behind the front-door emulator with the
Terraform's settings (one CPU) and a shorter timeout: Cloud Run answers 504 and leaves the
handler running, and Cloud Tasks sends the batch again beside it. Reproduced with no budget;
with THOTH_BATCH_BUDGET_SECONDS the batch is done in parts, each inside the timeout. The
pages are heavy to embed (~2 s each on one CPU here), which the budget covers as well."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

import pytest
from thoth_devstack import front_door

from tests.support.corpus import write_corpus
from tests.support.inprocess import wait_until
from tests.support.pipeline import current_chunks, wait_for_job
from tests.support.processes import free_port
from tests.support.stack import Emulator, cloud_tasks_emulator, fronted_worker, stack_settings
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.jobs import JobStatus
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.start import start_job
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import save_source
from thoth.ingest.sources.sync import upload_directory
from thoth.ingest.tasks import TaskQueue

pytestmark = pytest.mark.slow
TIMEOUT_SECONDS = 12  # Cloud Run's request timeout, shortened
PAGES = 20  # ~2 s each to embed here: ~40 s in one request, over 12 s on a machine 3x faster
BUDGET_SECONDS = 3.0
TIMED_OUT = "/tasks/ingest-batch 504"  # the door's log line for a batch it cut off
WORDS = ("policy", "leave", "travel", "budget", "laptop", "meeting", "review", "onboarding")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with cloud_tasks_emulator(log=tmp_path_factory.mktemp("logs") / "tasks.log") as running:
        yield running


def heavy_page(number: int) -> str:
    """60 sections of ~110 words: ~60 chunks to embed."""
    pick = random.Random(number).choice
    sections = [
        f"## Section {k}\n\n" + " ".join(pick(WORDS) for _ in range(110)) + "." for k in range(60)
    ]
    return f"# Heavy page {number}\n\n" + "\n\n".join(sections)


def corpus(root: Path) -> Path:
    return write_corpus(root, {f"heavy/page-{n:02d}.md": heavy_page(n) for n in range(PAGES)})


@contextmanager
def ingest_behind_the_door(
    gcs_url: str, emulator: Emulator, tmp_path: Path, budget: float
) -> Iterator[tuple[Context, str, Path]]:
    port = free_port()
    base = Settings(
        bucket=f"t-{uuid.uuid4().hex[:12]}",
        storage_emulator_host=gcs_url,
        cache_dir=tmp_path / "worker-cache",
        batch_budget_seconds=budget,
        embedding_batch_size=4,  # an encode call every 32 chunks: each page's own
    )
    settings = stack_settings(base, emulator, port).model_copy(update={"batch_files": PAGES})
    store = BlobStore.from_settings(settings)
    store.ensure_bucket()
    local = settings.model_copy(update={"cache_dir": tmp_path / "test-cache"})
    ctx = Context(local, store, TaskQueue(local))
    source = f"s-{uuid.uuid4().hex[:8]}"
    save_source(store, SourceConfig(name=source, kind="upload"))
    upload_directory(store, source, corpus(tmp_path / "corpus"))
    door = tmp_path / "door"
    # Terraform declares neither setting, so a container gets them only when the door passes
    # them on from its own environment.
    tuning = {"THOTH_BATCH_BUDGET_SECONDS": str(budget), "THOTH_EMBEDDING_BATCH_SIZE": "4"}
    extra = {
        # One instance: the next part waits for it to finish its request (milliseconds)
        # instead of cold-starting a second one (~5 s of the timeout, the probe's period).
        "overrides": {"timeout_seconds": TIMEOUT_SECONDS, "max_instances": 1},
        "inherit": [*front_door.LOCAL_ENV, *tuning],
    }
    with patch.dict(os.environ, tuning), fronted_worker(settings, port, emulator, door, extra):
        yield ctx, source, door / "cloud-run.log"


def test_without_a_budget_the_timeout_cuts_a_running_batch(
    gcs_url: str, emulator: Emulator, tmp_path: Path
) -> None:
    """The defect: one batch of ~40 s, and the door cuts it at 12 s while it runs on."""
    with ingest_behind_the_door(gcs_url, emulator, tmp_path, 3600.0) as (ctx, source, log):
        start_job(ctx, source)
        wait_until(lambda: TIMED_OUT in log.read_text(), 90, "a batch cut off by the timeout")


def test_with_a_budget_every_part_ends_inside_the_timeout(
    gcs_url: str, emulator: Emulator, tmp_path: Path
) -> None:
    with ingest_behind_the_door(gcs_url, emulator, tmp_path, BUDGET_SECONDS) as (ctx, source, log):
        done = wait_for_job(ctx, start_job(ctx, source).job_id, timeout=300)
        assert done.job.status == JobStatus.succeeded, done.job.error
        assert TIMED_OUT not in log.read_text()
        [batch] = ctx.jobs.batch_results(done.job.job_id)
        assert len(batch.parts) >= 3 and len(batch.files) == PAGES
        chunks = current_chunks(ctx, source, tmp_path / "read")
        assert {chunk.path for chunk in chunks.values()} == {
            f"heavy/page-{n:02d}.md" for n in range(PAGES)
        }
