"""The ingestion worker's local copies of base versions, against the real fake-gcs-server.

On Cloud Run they live in the instance's in-memory /tmp: each kept copy is memory held until
the instance stops, so the worker keeps one (the last used, of any source) and those open.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.support.snapshots import SAMPLE_DOCS, make_and_publish, make_snapshot, publish
from thoth.bucket.keys import version_prefix
from thoth.bucket.snapshot import SnapshotError
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.pipeline.base_snapshot import (
    adopt_copy,
    copies_root,
    forget_source,
    local_snapshot,
)


def local_versions(settings: Settings, source: str = "handbook") -> list[str]:
    folder = copies_root(settings.cache_dir) / source
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def publish_versions(
    store: BlobStore, tmp_path: Path, *versions: str, source: str = "handbook"
) -> None:
    for version in versions:
        make_and_publish(store, tmp_path, SAMPLE_DOCS, source=source, version=version)


def test_only_the_copy_last_used_is_kept(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    publish_versions(store, tmp_path, "v0001", "v0002", "v0003")
    publish_versions(store, tmp_path, "v0001", source="other")
    with local_snapshot(store, settings.cache_dir, "other", "v0001"):
        pass
    for version in ("v0001", "v0002", "v0003"):
        with local_snapshot(store, settings.cache_dir, "handbook", version) as snapshot:
            assert snapshot.manifest.version == version
            assert version in local_versions(settings)
        assert local_versions(settings) == [version]
    # Another source's copy goes too (with many sources, one copy each would outgrow the
    # instance); so does a source removed through another process.
    assert [p.name for p in copies_root(settings.cache_dir).iterdir()] == ["handbook"]


def test_a_copy_in_use_outlives_a_newer_one(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    """A cancelled job's finalize may still read v0001 while the next job plans on v0002:
    closing v0002 must not delete v0001 under it; closing v0001 then deletes v0002."""
    publish_versions(store, tmp_path, "v0001", "v0002")
    with local_snapshot(store, settings.cache_dir, "handbook", "v0001") as held:
        with local_snapshot(store, settings.cache_dir, "handbook", "v0002"):
            pass
        assert local_versions(settings) == ["v0001", "v0002"]
        assert len(list(held.chunks({"people/vacation.md"}))) > 0
    assert local_versions(settings) == ["v0001"]


def test_a_copy_being_downloaded_is_not_pruned(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    publish_versions(store, tmp_path, "v0001", "v0002")
    started, release = threading.Event(), threading.Event()
    original = store.download_file

    def slow(key: str, path: Path) -> None:
        if "/v0002/" in key:
            started.set()
            release.wait(10)
        original(key, path)

    store.download_file = slow  # type: ignore[method-assign]
    done: list[str] = []

    def download() -> None:
        with local_snapshot(store, settings.cache_dir, "handbook", "v0002") as snapshot:
            done.append(snapshot.manifest.version)

    worker = threading.Thread(target=download)
    worker.start()
    assert started.wait(10)
    with local_snapshot(store, settings.cache_dir, "handbook", "v0001"):
        pass
    assert "v0002.partial" in local_versions(settings)  # mid-download: left alone
    release.set()
    worker.join(10)
    assert done == ["v0002"]
    assert local_versions(settings) == ["v0002"]


def test_forgetting_a_source_deletes_its_copies_but_an_open_one(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    publish_versions(store, tmp_path, "v0001", "v0002")
    with local_snapshot(store, settings.cache_dir, "handbook", "v0001"):
        pass
    forget_source(settings.cache_dir, "handbook")
    assert not (copies_root(settings.cache_dir) / "handbook").exists()
    forget_source(settings.cache_dir, "never-copied")  # nothing there: no error
    with local_snapshot(store, settings.cache_dir, "handbook", "v0002"):
        forget_source(settings.cache_dir, "handbook")
        assert local_versions(settings) == ["v0002"]


def test_two_deliveries_wanting_one_missing_copy_both_get_it(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    """A cancelled job's finalize beside the next job's plan, on one base version: they
    downloaded into the same `.partial` folder and broke each other's download."""
    publish_versions(store, tmp_path, "v0001")
    original = store.download_file
    downloads: list[str] = []

    def slow(key: str, path: Path) -> None:
        downloads.append(key)
        time.sleep(0.01)
        original(key, path)

    store.download_file = slow  # type: ignore[method-assign]
    got: list[str] = []
    errors: list[BaseException] = []

    def open_copy() -> None:
        try:
            with local_snapshot(store, settings.cache_dir, "handbook", "v0001") as snapshot:
                got.append(snapshot.manifest.version)
                assert len(list(snapshot.documents())) == len(SAMPLE_DOCS)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_copy) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and got == ["v0001"] * 3
    assert len(downloads) == len(set(downloads))  # downloaded once
    assert local_versions(settings) == ["v0001"]


def test_a_failed_download_keeps_the_last_good_copy_and_no_partial(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    publish_versions(store, tmp_path, "v0001", source="other")
    publish_versions(store, tmp_path, "v0001")
    with local_snapshot(store, settings.cache_dir, "other", "v0001"):
        pass
    store.delete_prefix(version_prefix("handbook", "v0001") + "lancedb/")
    with (
        pytest.raises(SnapshotError, match="incomplete"),
        local_snapshot(store, settings.cache_dir, "handbook", "v0001"),
    ):
        pass
    assert local_versions(settings, "other") == ["v0001"]
    assert local_versions(settings) == []


def test_a_partial_folder_left_beside_the_kept_copy_goes(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    publish_versions(store, tmp_path, "v0001")
    with local_snapshot(store, settings.cache_dir, "handbook", "v0001"):
        pass
    (copies_root(settings.cache_dir) / "handbook" / "v0001.partial").mkdir()  # a crash's
    with local_snapshot(store, settings.cache_dir, "handbook", "v0001"):
        pass
    assert local_versions(settings) == ["v0001"]


def test_a_version_the_worker_built_becomes_its_copy(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    """After a publish the next job builds on the new version: the folder just uploaded is
    kept as its copy (no download), and it is the one copy kept."""
    publish_versions(store, tmp_path, "v0001")
    with local_snapshot(store, settings.cache_dir, "handbook", "v0001"):
        pass
    built = tmp_path / "handbook-v0002"
    manifest = make_snapshot(built, SAMPLE_DOCS, version="v0002")
    publish(store, built, manifest)
    adopt_copy(settings.cache_dir, "handbook", "v0002", built)
    assert local_versions(settings) == ["v0002"] and not built.exists()
    store.download_file = None  # type: ignore[assignment]  # no download may happen
    with local_snapshot(store, settings.cache_dir, "handbook", "v0002") as snapshot:
        assert snapshot.manifest.version == "v0002"
