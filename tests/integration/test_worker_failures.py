"""Jobs that fail for good end `failed` with their reason and free their source; errors
answer their category's status; the worker refuses what a hostile web page could send it.
Through the real worker process and the real Cloud Tasks emulator."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.pipeline import wait_for_job
from tests.support.processes import free_port
from tests.support.stack import cloud_tasks_emulator, ingestion_worker, stack_settings
from thoth.bucket.keys import source_lock_key
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.jobs import JobStatus
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.start import start_job
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import get_source, save_source, source_names
from thoth.ingest.tasks import TaskQueue

Stack = tuple[Context, str, Path, dict[str, str]]  # and a permitted /v1 caller's headers


@pytest.fixture(scope="module")
def stack(gcs_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("logs")
    roots = tmp_path_factory.mktemp("roots")
    base = Settings(
        bucket=f"t-{uuid.uuid4().hex[:12]}",
        storage_emulator_host=gcs_url,
        cache_dir=tmp_path_factory.mktemp("worker-cache"),
        queue_max_attempts=3,
        source_roots=[str(roots)],
    )
    port = free_port()
    with cloud_tasks_emulator(log=logs / "emulator.log") as emulator:
        settings = stack_settings(base, emulator, port)
        store = BlobStore.from_settings(settings)
        store.ensure_bucket()
        with ingestion_worker(settings, port, log=logs / "worker.log") as worker:
            local = settings.model_copy(update={"cache_dir": tmp_path_factory.mktemp("test-cache")})
            caller = emulator.caller_headers(settings)
            yield Context(local, store, TaskQueue(local)), worker.url, roots, caller


def dir_source(ctx: Context, roots: Path) -> tuple[str, Path]:
    name = f"d-{uuid.uuid4().hex[:8]}"
    folder = roots / name
    (folder / "people").mkdir(parents=True)
    (folder / "people" / "leave.md").write_text("# Leave\n\nEveryone gets 27 days.\n")
    (folder / "index.md").write_text("# Handbook\n\nStart here.\n")
    save_source(ctx.store, SourceConfig(name=name, kind="dir", directory=str(folder)))
    return name, folder


def test_a_deleted_source_folder_fails_the_job_and_frees_the_source(
    stack: Stack, tmp_path: Path
) -> None:
    ctx, _, roots, _ = stack
    source, folder = dir_source(ctx, roots)
    assert wait_for_job(ctx, start_job(ctx, source).job_id).job.status == JobStatus.succeeded
    shutil.rmtree(folder)
    failed = wait_for_job(ctx, start_job(ctx, source).job_id, timeout=60)
    assert failed.job.status == JobStatus.failed
    assert failed.job.error is not None and "does not exist" in failed.job.error
    assert not ctx.store.exists(source_lock_key(source))
    again = start_job(ctx, source)  # accepted, not 409
    assert wait_for_job(ctx, again.job_id, timeout=60).job.status == JobStatus.failed


def test_an_emptied_folder_is_invalid_input_not_a_server_error(stack: Stack) -> None:
    ctx, url, roots, caller = stack
    source, folder = dir_source(ctx, roots)
    assert wait_for_job(ctx, start_job(ctx, source).job_id).job.status == JobStatus.succeeded
    for page in folder.rglob("*.md"):
        page.unlink()
    answer = httpx.post(f"{url}/v1/sources/{source}/sync", json={}, headers=caller, timeout=30)
    assert answer.status_code == 422 and "refusing to delete" in answer.json()["detail"]


def test_a_dir_source_outside_the_roots_cannot_be_registered(stack: Stack) -> None:
    _, url, _, caller = stack
    for folder in ("/", "/proc/self", "/etc/.."):
        body = {"name": "escape", "kind": "dir", "directory": folder}
        answer = httpx.put(f"{url}/v1/sources/escape", json=body, headers=caller, timeout=30)
        assert answer.status_code == 403, answer.text
        assert "THOTH_SOURCE_ROOTS" in answer.json()["detail"]


def test_a_phishing_citation_link_is_refused(stack: Stack) -> None:
    _, url, _, caller = stack
    body = {"name": "links", "kind": "upload", "base_url": "http://handbook.example.net"}
    answer = httpx.put(f"{url}/v1/sources/links", json=body, headers=caller, timeout=30)
    assert answer.status_code == 422 and "https" in answer.text


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "attacker.example:8081"}, 400),  # DNS rebinding
        ({"Origin": "https://attacker.example"}, 403),  # a cross-site page's fetch
        ({"Content-Type": "text/plain"}, 415),  # a cross-site "simple" POST
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ],
)
def test_what_a_hostile_page_sends_is_refused(
    stack: Stack, headers: dict[str, str], status: int
) -> None:
    ctx, url, roots, caller = stack
    source, _ = dir_source(ctx, roots)
    sent = {"Content-Type": "application/json", **caller, **headers}
    answer = httpx.post(
        f"{url}/v1/ingest", content=f'{{"source": "{source}"}}', headers=sent, timeout=30
    )
    assert answer.status_code == status, answer.text
    assert not ctx.store.exists(source_lock_key(source))  # no job was started


def test_the_worker_still_answers_its_own_callers(stack: Stack) -> None:
    ctx, url, roots, caller = stack
    source, _ = dir_source(ctx, roots)
    own = {"Origin": url, "Content-Type": "application/json; charset=utf-8", **caller}
    answer = httpx.post(f"{url}/v1/ingest", json={"source": source}, headers=own, timeout=30)
    assert answer.status_code == 202, answer.text
    assert wait_for_job(ctx, answer.json()["job_id"]).job.status == JobStatus.succeeded
    assert httpx.get(f"{url}/health", headers={"Host": "10.0.0.7:8080"}).status_code == 200


def test_a_source_is_removed_by_its_callers_only(stack: Stack) -> None:
    """A DELETE needs no JSON body, but the Host and Origin rules hold for it as for writes."""
    ctx, url, roots, caller = stack
    source, _ = dir_source(ctx, roots)
    hostile = {"Origin": "https://attacker.example", **caller}
    refused = httpx.delete(f"{url}/v1/sources/{source}", headers=hostile, timeout=30)
    assert refused.status_code == 403 and get_source(ctx.store, source).name == source
    anonymous = httpx.delete(f"{url}/v1/sources/{source}", timeout=30)
    assert anonymous.status_code == 401 and get_source(ctx.store, source).name == source
    removed = httpx.delete(f"{url}/v1/sources/{source}", headers=caller, timeout=30)
    assert removed.status_code == 200, removed.text
    assert removed.json()["registered"] is True and source not in source_names(ctx.store)
