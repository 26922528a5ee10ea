"""The ingestion path end to end through real emulators: fake-gcs-server, the Cloud Tasks
emulator dispatching to a real uvicorn worker that verifies the emulator's OIDC tokens."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.corpus import write_corpus, write_hostile_files
from tests.support.pipeline import current_chunks, wait_for_job
from tests.support.processes import free_port
from tests.support.stack import (
    CALLER,
    Emulator,
    cloud_tasks_emulator,
    ingestion_worker,
    stack_settings,
)
from thoth.bucket.keys import source_key
from thoth.bucket.store import BlobStore
from thoth.bucket.versions import list_versions
from thoth.config import Settings
from thoth.ingest.jobs import JobStatus
from thoth.ingest.pipeline.base_snapshot import copies_root
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.start import JobConflict, start_job
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import save_source
from thoth.ingest.sources.sync import upload_directory
from thoth.ingest.tasks import TaskQueue


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with cloud_tasks_emulator(log=tmp_path_factory.mktemp("logs") / "emulator.log") as running:
        yield running


@pytest.fixture(scope="module")
def worker_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("worker-cache")


@pytest.fixture(scope="module")
def stack(
    gcs_url: str, emulator: Emulator, worker_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Context, str]]:
    logs = tmp_path_factory.mktemp("logs")
    base = Settings(
        bucket=f"t-{uuid.uuid4().hex[:12]}",
        storage_emulator_host=gcs_url,
        cache_dir=worker_cache,
    )
    port = free_port()
    settings = stack_settings(base, emulator, port)
    store = BlobStore.from_settings(settings)
    store.ensure_bucket()
    with ingestion_worker(settings, port, log=logs / "worker.log") as worker:
        local = settings.model_copy(update={"cache_dir": tmp_path_factory.mktemp("test-cache")})
        yield Context(local, store, TaskQueue(local)), worker.url


@pytest.fixture
def caller(stack: tuple[Context, str], emulator: Emulator) -> dict[str, str]:
    """Headers of a permitted /v1 caller (an ID token of THOTH_WORKER_CALLERS' email)."""
    return emulator.caller_headers(stack[0].settings)


def new_source(ctx: Context, directory: Path) -> str:
    name = f"s-{uuid.uuid4().hex[:8]}"
    save_source(ctx.store, SourceConfig(name=name, kind="upload", base_url="https://hb.example"))
    upload_directory(ctx.store, name, directory)
    return name


def test_ingest_is_incremental(
    stack: tuple[Context, str], worker_cache: Path, tmp_path: Path
) -> None:
    ctx, _ = stack
    corpus = write_corpus(tmp_path / "corpus")
    source = new_source(ctx, corpus)

    first = wait_for_job(ctx, start_job(ctx, source).job_id)
    assert first.job.status == JobStatus.succeeded, first
    assert first.counts.added == 6 and first.counts.failed == 0
    chunks = current_chunks(ctx, source, tmp_path)
    assert {c.path for c in chunks.values()} == {
        "people/time-off.md", "engineering/on-call.md", "engineering/deploys.md",
        "company/values.txt", "company/history.html", "finance/expenses.md",
    }  # fmt: skip
    assert first.counts.chunks_total == len(chunks) == first.counts.chunks_embedded

    again = wait_for_job(ctx, start_job(ctx, source).job_id)
    assert again.counts.chunks_embedded == 0
    assert again.counts.unchanged == 6
    assert current_chunks(ctx, source, tmp_path).keys() == chunks.keys()
    # Nothing changed: the served version stays, and no copy of it pushes out older ones.
    assert again.job.status == JobStatus.succeeded and again.job.version == first.job.job_id
    assert again.counts.chunks_total == first.counts.chunks_total
    assert [v.version for v in list_versions(ctx.store, source)] == [first.job.job_id]

    (corpus / "engineering/deploys.md").write_text("# Deploys\n\nDeploys freeze on Thursdays.\n")
    (corpus / "finance/expenses.md").unlink()
    upload_directory(ctx.store, source, corpus)
    third = wait_for_job(ctx, start_job(ctx, source).job_id)
    after = current_chunks(ctx, source, tmp_path)
    deploys = [c for c in after.values() if c.path == "engineering/deploys.md"]
    assert third.counts.changed == 1 and third.counts.deleted == 1
    assert third.job.version == third.job.job_id
    # No file changed but the commit did (a push of other files): citations link to the new
    # commit, so a new version is published.
    pinned = wait_for_job(ctx, start_job(ctx, source, commit="c" * 40).job_id)
    assert pinned.counts.unchanged == 5 and pinned.job.version == pinned.job.job_id
    # Nor a new base URL: every citation changes.
    save_source(ctx.store, SourceConfig(name=source, kind="upload", base_url="https://b.example"))
    moved = wait_for_job(ctx, start_job(ctx, source).job_id)
    assert moved.job.version == moved.job.job_id
    assert {c.url for c in current_chunks(ctx, source, tmp_path / "moved").values()} >= {
        "https://b.example/engineering/deploys#deploys"
    }
    published = {first.job.job_id, third.job.job_id, pinned.job.job_id, moved.job.job_id}
    assert {v.version for v in list_versions(ctx.store, source)} == published
    # The worker kept one copy: the version it published last, which the next job builds on.
    assert [p.name for p in (copies_root(worker_cache) / source).iterdir()] == [moved.job.job_id]
    assert third.counts.chunks_embedded == len(deploys) == 1
    assert "Thursdays" in deploys[0].text
    assert not any(c.path == "finance/expenses.md" for c in after.values())
    unchanged_before = {k for k, c in chunks.items() if c.path not in {
        "engineering/deploys.md", "finance/expenses.md"}}  # fmt: skip
    assert unchanged_before <= after.keys()


def test_hostile_files_fail_alone(stack: tuple[Context, str], tmp_path: Path) -> None:
    ctx, _ = stack
    corpus = write_corpus(tmp_path / "corpus")
    expected = write_hostile_files(corpus)
    source = new_source(ctx, corpus)
    ctx.store.write(source_key(source, "../escape.md"), b"# escape\n")

    progress = wait_for_job(ctx, start_job(ctx, source).job_id)
    assert progress.job.status == JobStatus.succeeded
    errors = {e.path: e.error for e in progress.errors}
    assert "../escape.md" in errors
    indexed = {c.path for c in current_chunks(ctx, source, tmp_path).values()}
    for path, outcome in expected.items():
        if outcome == "failed":
            assert errors.get(path), path
            assert path not in indexed
        elif outcome == "skipped":
            assert path not in indexed and path not in errors
    assert "hostile/table.md" in indexed and "hostile/deep.md" in indexed
    assert progress.counts.skipped >= 1 and progress.counts.failed >= 2


def test_second_ingest_of_a_source_gets_409(
    stack: tuple[Context, str], tmp_path: Path, caller: dict[str, str]
) -> None:
    ctx, url = stack
    source = new_source(ctx, write_corpus(tmp_path / "corpus"))
    first = start_job(ctx, source)
    with pytest.raises(JobConflict):
        start_job(ctx, source)
    answer = httpx.post(f"{url}/v1/ingest", json={"source": source}, headers=caller, timeout=30)
    assert answer.status_code == 409
    assert first.job_id in answer.json()["detail"]
    assert wait_for_job(ctx, first.job_id).job.status == JobStatus.succeeded
    answer = httpx.post(f"{url}/v1/ingest", json={"source": source}, headers=caller, timeout=30)
    assert answer.status_code == 202
    wait_for_job(ctx, answer.json()["job_id"])


def test_task_endpoints_refuse_requests_without_the_emulators_token(
    stack: tuple[Context, str],
) -> None:
    _, url = stack
    body = {"job_id": "20260101t000000-00000000", "batch": 0}
    assert httpx.post(f"{url}/tasks/ingest-batch", json=body).status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}
    assert httpx.post(f"{url}/tasks/finalize", json=body, headers=forged).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/ingest", {"source": "Bad Name!"}),
        ("post", "/v1/ingest", {"source": "x", "full": "maybe"}),
        ("post", "/v1/ingest", {"source": "x", "extra": 1}),
        ("get", "/v1/jobs/not-a-job", None),
        ("get", "/v1/jobs?limit=0", None),
        ("post", "/v1/sources/UPPER/sync", None),
    ],
)
def test_bad_requests_get_4xx(
    stack: tuple[Context, str], caller: dict[str, str], method: str, path: str, body: object
) -> None:
    _, url = stack
    answer = httpx.request(method, f"{url}{path}", json=body, headers=caller, timeout=30)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["detail"]


def test_unknown_source_and_job_are_404(stack: tuple[Context, str], caller: dict[str, str]) -> None:
    _, url = stack
    answer = httpx.post(f"{url}/v1/ingest", json={"source": "nope"}, headers=caller, timeout=30)
    assert answer.status_code == 404 and "nope" in answer.json()["detail"]
    answer = httpx.get(f"{url}/v1/jobs/20260101t000000-00000000", headers=caller, timeout=30)
    assert answer.status_code == 404


def test_worker_api_wants_a_permitted_caller(
    stack: tuple[Context, str], emulator: Emulator
) -> None:
    ctx, url = stack
    assert httpx.get(f"{url}/v1/jobs", timeout=30).status_code == 401
    stranger = emulator.caller_headers(ctx.settings, "stranger@example.com")
    refused = httpx.get(f"{url}/v1/jobs", headers=stranger, timeout=30)
    assert refused.status_code == 403 and "stranger@example.com" in refused.json()["detail"]
    other_audience = {
        "Authorization": "Bearer " + emulator.id_token(CALLER, "https://elsewhere.example")
    }
    assert httpx.get(f"{url}/v1/jobs", headers=other_audience, timeout=30).status_code == 401
    permitted = emulator.caller_headers(ctx.settings)
    assert httpx.get(f"{url}/v1/jobs", headers=permitted, timeout=30).status_code == 200
