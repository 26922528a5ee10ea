"""IndexCache against the real fake-gcs-server: new versions, half uploads, outages."""

from __future__ import annotations

import gc
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.processes import fake_gcs
from tests.support.snapshots import SAMPLE_DOCS, make_and_publish, make_snapshot, publish
from thoth.bucket.keys import index_prefix, latest_push_key, version_prefix
from thoth.bucket.pushes import LatestPush, record_push
from thoth.bucket.snapshot import Snapshot
from thoth.bucket.store import BlobStore
from thoth.bucket.versions import local_copy, rollback
from thoth.config import Settings
from thoth.serve.loader import STORE, IndexCache
from thoth.serve.search import SearchEngine, SourceIndex


def v2_docs() -> dict[str, str]:
    return {**SAMPLE_DOCS, "people/parental-leave.md": "# Parental leave\n\n20 weeks paid."}


def test_loads_and_picks_up_new_versions(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    cache = IndexCache(settings, store)
    assert cache.refresh() is False and not cache.status().ready  # nothing published yet
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    assert cache.refresh() is True
    first = cache.indexes
    assert first["handbook"].version == "v0001" and cache.status().ready
    assert cache.refresh() is False  # unchanged pointer: nothing downloaded
    make_and_publish(store, tmp_path, v2_docs(), version="v0002")
    assert cache.refresh() is True
    assert cache.indexes["handbook"].version == "v0002"
    assert first["handbook"].version == "v0001"  # a reader's view never changes under it
    engine = SearchEngine(cache.indexes)
    assert engine.get_document("people/parental-leave.md").title == "Parental leave"
    local = sorted(p.name for p in (settings.cache_dir / "handbook").iterdir())
    assert local == ["v0001", "v0002"]
    del first, engine  # the readers of v0001 are done
    gc.collect()
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0003")
    cache.refresh()
    local = sorted(p.name for p in (settings.cache_dir / "handbook").iterdir())
    assert local == ["v0003"]  # no request reads the older ones: deleted (memory, on Cloud Run)


def test_a_version_a_reader_still_holds_outlives_later_swaps(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    """A request that began on v0001 reads its rows from disk; two swaps during it must not
    delete v0001 under it. Once nothing holds it, the next poll deletes it."""
    cache = IndexCache(settings, store)
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    cache.refresh()
    held = SearchEngine(cache.indexes)  # a request in flight
    for version in ("v0002", "v0003"):
        make_and_publish(store, tmp_path, v2_docs(), version=version)
        cache.refresh()
    assert held.get_document("people/vacation.md").title == "Vacation policy"
    assert (settings.cache_dir / "handbook" / "v0001").is_dir()
    del held
    gc.collect()
    assert cache.refresh() is False  # the next poll, no new version: v0001 goes all the same
    local = sorted(p.name for p in (settings.cache_dir / "handbook").iterdir())
    assert local == ["v0003"]


def test_several_sources(settings: Settings, store: BlobStore, tmp_path: Path) -> None:
    make_and_publish(store, tmp_path, SAMPLE_DOCS, source="handbook")
    make_and_publish(store, tmp_path, {"a/b.md": "# B\n\nbee"}, source="wiki")
    cache = IndexCache(settings, store)
    cache.refresh()
    assert sorted(cache.indexes) == ["handbook", "wiki"]


def test_half_uploaded_version_is_never_served(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    cache = IndexCache(settings, store)
    cache.refresh()
    manifest = make_snapshot(tmp_path / "v2", v2_docs(), version="v0002")
    publish(store, tmp_path / "v2", manifest)
    # the pointer moved, but one data file never arrived
    store.delete(version_prefix("handbook", "v0002") + manifest.files[0].path)
    assert cache.refresh() is False
    assert cache.indexes["handbook"].version == "v0001"
    assert "incomplete" in cache.status().errors["handbook"]
    assert not (settings.cache_dir / "handbook/v0002").exists()
    # the upload completes: the next poll picks it up and clears the error
    store.upload_file(
        version_prefix("handbook", "v0002") + manifest.files[0].path,
        tmp_path / "v2" / manifest.files[0].path,
    )
    assert cache.refresh() is True
    assert cache.indexes["handbook"].version == "v0002" and not cache.status().errors


def test_corrupted_download_is_rejected(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    manifest = make_snapshot(tmp_path / "v1", SAMPLE_DOCS, version="v0001")
    publish(store, tmp_path / "v1", manifest)
    store.write(version_prefix("handbook", "v0001") + manifest.files[0].path, b"garbage")
    cache = IndexCache(settings, store)
    cache.refresh()
    assert not cache.status().ready
    assert "manifest" in cache.status().errors["handbook"]
    assert list((settings.cache_dir / "handbook").iterdir()) == []  # no partial copy kept


def count_downloads(store: BlobStore) -> list[str]:
    """The keys the store downloads from now on, in order."""
    downloads: list[str] = []
    original = store.download_file

    def counting(key: str, path: Path) -> None:
        downloads.append(key)
        original(key, path)

    store.download_file = counting  # type: ignore[method-assign]
    return downloads


def test_cold_start_uses_local_copy(settings: Settings, store: BlobStore, tmp_path: Path) -> None:
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    IndexCache(settings, store).refresh()
    downloads = count_downloads(store)
    cache = IndexCache(settings, store)
    assert cache.refresh() is True
    assert cache.indexes["handbook"].version == "v0001" and downloads == []


def test_a_truncated_local_copy_is_downloaded_again(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    manifest = make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    IndexCache(settings, store).refresh()
    local = settings.cache_dir / "handbook" / "v0001"
    damaged = local / manifest.files[0].path
    damaged.write_bytes(damaged.read_bytes()[:-1])
    cache = IndexCache(settings, store)
    assert cache.refresh() is True
    assert cache.indexes["handbook"].version == "v0001"
    assert damaged.stat().st_size == manifest.files[0].size  # fetched whole again


async def test_store_down_keeps_last_good(tmp_path: Path) -> None:
    with fake_gcs() as url:
        settings = Settings(
            bucket="outage", storage_emulator_host=url, cache_dir=tmp_path / "cache"
        )
        store = BlobStore.from_settings(settings)
        store.ensure_bucket()
        make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
        cache = IndexCache(settings, store)
        assert await cache.refresh_async(timeout=30) is True
    # the server is gone: the GCS client retries a refused connection for minutes
    assert await cache.refresh_async(timeout=1.0) is False
    status = cache.status()
    assert status.ready and status.sources[0].version == "v0001"
    assert "did not answer" in status.errors[STORE]
    assert SearchEngine(cache.indexes).search("vacation", mode="fulltext")
    # a fresh process during the outage serves the local copy
    restarted = IndexCache(settings, BlobStore.from_settings(settings))
    thread = threading.Thread(target=restarted._load_local_fallbacks)
    thread.start()
    thread.join(10)
    assert restarted.indexes["handbook"].version == "v0001"


def test_a_local_copy_that_fails_to_load_gives_way_to_an_older_one(
    settings: Settings, store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thoth.serve import loader

    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    make_and_publish(store, tmp_path, v2_docs(), version="v0002")
    for version in ("v0001", "v0002"):  # copies an earlier process left
        local_copy(store, "handbook", version, settings.cache_dir)
    real = loader.SourceIndex

    def fails_for_v0002(snapshot: Snapshot) -> SourceIndex:
        if snapshot.manifest.version == "v0002":
            raise RuntimeError("lance could not read a fragment")  # not a SnapshotError
        return real(snapshot)

    monkeypatch.setattr(loader, "SourceIndex", fails_for_v0002)
    restarted = IndexCache(settings, store)
    assert restarted._load_local_fallbacks() is True
    assert restarted.indexes["handbook"].version == "v0001"


async def test_unreachable_store_error_is_recorded(tmp_path: Path) -> None:
    # a store that answers, but not as a GCS bucket we can read, fails fast and says why
    settings = Settings(
        bucket="nope-bucket", storage_emulator_host="http://127.0.0.1:9", cache_dir=tmp_path
    )
    cache = IndexCache(settings)
    assert await cache.refresh_async(timeout=0.5) is False
    assert not cache.status().ready and STORE in cache.status().errors


@pytest.fixture(autouse=True)
def _quiet_threads() -> None:
    threading.excepthook = lambda args: None


def test_a_snapshot_of_another_encoder_variant_is_refused(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    cache = IndexCache(settings, store)
    assert cache.refresh() is True
    make_and_publish(store, tmp_path, v2_docs(), version="v0002", variant="int8")
    assert cache.refresh() is False
    assert cache.indexes["handbook"].version == "v0001"  # the fp32 version keeps serving
    assert "int8" in cache.status().errors["handbook"]
    int8_server = IndexCache(settings.model_copy(update={"embedding_variant": "int8"}), store)
    assert int8_server.refresh() is True
    assert int8_server.indexes["handbook"].manifest.variant == "int8"


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The versions SourceIndex loads, in order; a "fail: MemoryError" entry placed in it
    makes the next load raise MemoryError instead (and is consumed)."""
    seen: list[str] = []
    original = SourceIndex.__init__

    def counting(self: SourceIndex, snapshot: Snapshot, **kw: object) -> None:
        if seen and seen[-1] == "fail: MemoryError":
            seen.pop()
            raise MemoryError
        seen.append(snapshot.manifest.version)
        original(self, snapshot, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(SourceIndex, "__init__", counting)
    return seen


def test_a_version_that_fails_to_load_is_deleted_and_not_loaded_again(
    settings: Settings, store: BlobStore, tmp_path: Path, loads: list[str]
) -> None:
    """Each new version that failed to load used to stay on disk (memory, on Cloud Run), and
    every poll downloaded or read it again; the next published version is tried."""
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    cache = IndexCache(settings, store)
    assert cache.refresh() is True
    for version in ("v0002", "v0003"):
        make_and_publish(store, tmp_path, v2_docs(), version=version, variant="int8")
        assert cache.refresh() is False and cache.refresh() is False
        assert cache.indexes["handbook"].version == "v0001"
        error = cache.status().errors["handbook"]
        assert f"handbook@{version} not loaded" in error and "int8" in error
        local = sorted(p.name for p in (settings.cache_dir / "handbook").iterdir())
        assert local == ["v0001"]
    assert loads == ["v0001", "v0002", "v0003"]  # once each, not at every poll
    make_and_publish(store, tmp_path, v2_docs(), version="v0004")
    assert cache.refresh() is True
    assert cache.indexes["handbook"].version == "v0004"
    assert "handbook" not in cache.status().errors


def test_a_removed_source_leaves_no_error_or_push_behind(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    make_and_publish(store, tmp_path, SAMPLE_DOCS, source="docs", version="v0001")
    cache = IndexCache(settings, store)
    cache.refresh()
    make_and_publish(store, tmp_path, v2_docs(), source="docs", version="v0002", variant="int8")
    push = LatestPush(
        source="docs", commit="a" * 40, ref="main", event_uuid="e1", pushed_at=datetime.now(UTC)
    )
    record_push(store, push)
    cache.refresh()
    assert "docs" in cache.status().errors and "docs" in cache.pushes
    store.delete_prefix(index_prefix("docs"))
    cache.refresh()
    assert set(cache.indexes) == {"handbook"}
    assert "docs" not in cache.status().errors and "docs" not in cache.pushes


def test_a_load_that_fails_for_want_of_memory_is_tried_again_on_the_same_copy(
    settings: Settings, store: BlobStore, tmp_path: Path, loads: list[str]
) -> None:
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    cache = IndexCache(settings, store)
    cache.refresh()
    make_and_publish(store, tmp_path, v2_docs(), version="v0002")
    loads.append("fail: MemoryError")  # the next load fails for want of memory
    assert cache.refresh() is False
    assert "MemoryError" in cache.status().errors["handbook"]
    downloads = count_downloads(store)
    assert cache.refresh() is True  # the next poll
    assert cache.indexes["handbook"].version == "v0002" and downloads == []
    assert loads == ["v0001", "v0002"]


def test_a_failed_version_named_again_after_a_rollback_is_tried_again(
    settings: Settings, store: BlobStore, tmp_path: Path, loads: list[str]
) -> None:
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    cache = IndexCache(settings, store)
    cache.refresh()
    make_and_publish(store, tmp_path, v2_docs(), version="v0002", variant="int8")
    cache.refresh()
    assert "v0002 not loaded" in cache.status().errors["handbook"]
    rollback(store, "handbook", "v0001")
    assert cache.refresh() is False and "handbook" not in cache.status().errors
    rollback(store, "handbook", "v0002")  # named again (by mistake): tried, refused again
    cache.refresh()
    assert "v0002 not loaded" in cache.status().errors["handbook"]
    assert cache.indexes["handbook"].version == "v0001"
    assert loads == ["v0001", "v0002", "v0002"]


def test_an_unreadable_push_record_does_not_hold_the_index_back(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    cache = IndexCache(settings, store)
    cache.refresh()
    store.write(latest_push_key("handbook"), b'{"source": "handbook"}')
    make_and_publish(store, tmp_path, v2_docs(), version="v0002")
    assert cache.refresh() is True
    assert cache.indexes["handbook"].version == "v0002"
    assert "latest push unreadable" in cache.status().errors["handbook"]
