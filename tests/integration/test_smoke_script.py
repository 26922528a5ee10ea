"""scripts/smoke.py against real MCP servers on loopback: one with no index (must fail with a
clear reason), one serving the sample handbook (must pass), one behind bearer tokens."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_mcp_http import loaded_app, serve
from tests.support.snapshots import make_and_publish
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.worker.app import create_app as create_worker_app

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scripts" / "smoke.py"
HANDBOOK = ROOT / "examples" / "handbook"


def sample_handbook() -> dict[str, str]:
    """The sample handbook's markdown pages, as the snapshot builder takes them."""
    return {
        str(path.relative_to(HANDBOOK)): path.read_text(encoding="utf-8")
        for path in sorted(HANDBOOK.rglob("*.md"))
    }


def smoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SMOKE), *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def handbook(store: BlobStore, tmp_path: Path) -> BlobStore:
    make_and_publish(store, tmp_path, sample_handbook(), version="v0007")
    return store


@pytest.fixture
def worker_url(settings: Settings) -> Iterator[str]:
    # Only /health is called: the queue address need not answer (the worker configures its
    # queue in the background and logs a warning when it cannot).
    quiet = settings.model_copy(update={"cloud_tasks_emulator_host": "127.0.0.1:9"})
    with serve(create_worker_app(quiet)) as base:
        yield base


def test_empty_index_fails_naming_the_check(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    make_and_publish(store, tmp_path, {}, version="v0001")  # a published index of nothing
    with serve(loaded_app(settings, store)) as base:
        done = smoke(base)
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last == "smoke: FAILED search_handbook: search returned no results"
    assert "ok    tools/list" in done.stdout
    assert "handbook@v0001 (0 documents)" in done.stdout


def test_no_index_at_all_fails_with_the_servers_reason(
    settings: Settings, store: BlobStore
) -> None:
    with serve(loaded_app(settings, store)) as base:
        done = smoke(base)
    assert done.returncode == 1
    assert "no source has an index yet" in done.stdout
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("smoke: FAILED search_handbook: search_handbook answered an error")
    assert "no index is loaded yet" in last


def test_sample_handbook_passes_every_check(
    settings: Settings, handbook: BlobStore, worker_url: str, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    with serve(loaded_app(settings, handbook)) as base:
        done = smoke(f"{base}/", "--worker", worker_url, "--summary", str(summary))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for check in ("initialize", "tools/list", "list_sources", "search_handbook", "get_document"):
        assert f"ok    {check}" in out, out
    assert "ok    worker /health" in out
    assert "handbook@v0007" in out  # the index version from list_sources
    assert "top people/time-off.md" in out  # the default question's answer, cited
    assert out.strip().splitlines()[-1].startswith("smoke: OK, 6 checks in")
    assert "| search_handbook | ok |" in summary.read_text()


def test_tokens_go_in_their_headers(settings: Settings, handbook: BlobStore) -> None:
    app = loaded_app(settings, handbook, mcp_tokens=["app-token"])
    with serve(app) as base:
        without = smoke(base, "--id-token", "id-token-abc")
        with_bearer = smoke(base, "--id-token", "id-token-abc", "--bearer", "app-token")
    assert without.returncode == 1
    last = without.stdout.strip().splitlines()[-1]
    assert last.startswith("smoke: FAILED initialize:"), without.stdout
    assert "401" in last
    assert "id-token-abc" not in without.stdout + without.stderr
    assert with_bearer.returncode == 0, with_bearer.stdout + with_bearer.stderr


def test_unreachable_worker_fails_its_check(settings: Settings, handbook: BlobStore) -> None:
    with serve(loaded_app(settings, handbook)) as base:
        done = smoke(base, "--worker", "http://127.0.0.1:9", "--timeout", "5")
    assert done.returncode == 1
    assert done.stdout.strip().splitlines()[-1].startswith("smoke: FAILED worker /health: ")
