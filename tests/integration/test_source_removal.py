"""Removing a source against the real fake-gcs-server: what goes, what refuses it, and the
MCP server's index cache letting the source go."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from tests.support.snapshots import SAMPLE_DOCS, make_and_publish
from tests.support.tasks import RecordingTasks
from thoth.bucket.keys import index_prefix, source_prefix
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.jobs import Job, new_job_id
from thoth.ingest.pipeline.base_snapshot import copies_root, local_snapshot
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.remove import SourceBusy, remove_source
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import (
    UnknownSourceError,
    get_source,
    save_source,
    source_names,
)
from thoth.ingest.sources.sync import upload_directory
from thoth.serve.loader import IndexCache
from thoth.serve.search import SearchEngine


@pytest.fixture
def ctx(settings: Settings, store: BlobStore) -> Context:
    return Context(settings, store, RecordingTasks())


def _uploaded_source(ctx: Context, tmp_path: Path, name: str) -> None:
    save_source(ctx.store, SourceConfig(name=name, kind="upload"))
    folder = tmp_path / f"{name}-files"
    folder.mkdir()
    for path, text in SAMPLE_DOCS.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    upload_directory(ctx.store, name, folder)
    make_and_publish(ctx.store, tmp_path / name, SAMPLE_DOCS, source=name, version="v0001")
    make_and_publish(ctx.store, tmp_path / name, SAMPLE_DOCS, source=name, version="v0002")


def _objects(store: BlobStore, *prefixes: str) -> list[str]:
    return [obj.key for prefix in prefixes for obj in store.list_objects(prefix)]


def test_removal_deletes_registration_index_and_files_of_that_source_only(
    ctx: Context, tmp_path: Path
) -> None:
    _uploaded_source(ctx, tmp_path, "docs")
    _uploaded_source(ctx, tmp_path, "docs2")  # a name that starts like it stays whole
    before = _objects(ctx.store, index_prefix("docs2")) + _objects(
        ctx.store, source_prefix("docs2")
    )
    with local_snapshot(ctx.store, ctx.settings.cache_dir, "docs", "v0002"):
        pass  # the copy a worker's job made of its base version
    assert (copies_root(ctx.settings.cache_dir) / "docs" / "v0002").is_dir()
    removal = remove_source(ctx, "docs")
    assert not (copies_root(ctx.settings.cache_dir) / "docs").exists()
    assert removal.registered and removal.served_version == "v0002"
    assert removal.mirror_objects == len(SAMPLE_DOCS) and removal.index_objects > 2
    assert _objects(ctx.store, index_prefix("docs")) == []
    assert _objects(ctx.store, source_prefix("docs")) == []
    assert source_names(ctx.store) == ["docs2"]
    assert _objects(ctx.store, index_prefix("docs2"), source_prefix("docs2")) == before
    with pytest.raises(UnknownSourceError, match="known sources: docs2"):
        remove_source(ctx, "docs")  # nothing is left of it


def test_an_index_without_a_registration_can_be_removed(ctx: Context, tmp_path: Path) -> None:
    make_and_publish(ctx.store, tmp_path, SAMPLE_DOCS, source="orphan")
    removal = remove_source(ctx, "orphan")
    assert not removal.registered and removal.served_version == "v0001"
    assert _objects(ctx.store, index_prefix("orphan")) == []


def test_a_running_job_refuses_the_removal_and_nothing_is_deleted(
    ctx: Context, tmp_path: Path
) -> None:
    _uploaded_source(ctx, tmp_path, "docs")
    job = Job(job_id=new_job_id(), source="docs")
    ctx.jobs.create(job)
    assert ctx.jobs.acquire_lock("docs", job.job_id) is None
    with pytest.raises(SourceBusy, match=f"not removed, nothing deleted: job {job.job_id}"):
        remove_source(ctx, "docs")
    assert get_source(ctx.store, "docs").kind == "upload"
    assert _objects(ctx.store, source_prefix("docs")) and _objects(ctx.store, index_prefix("docs"))


def test_a_job_started_while_the_registration_goes_keeps_it(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder is looked at again after the registration is deleted: a job that took the
    source in between wins, and the registration is put back for it."""
    _uploaded_source(ctx, tmp_path, "docs")
    job = Job(job_id=new_job_id(), source="docs")
    looks = iter([None, job.job_id])
    monkeypatch.setattr(ctx.jobs, "holder", lambda source: next(looks))
    with pytest.raises(SourceBusy):
        remove_source(ctx, "docs")
    assert get_source(ctx.store, "docs").kind == "upload"
    assert _objects(ctx.store, index_prefix("docs"))


def test_an_invalid_name_is_refused(ctx: Context) -> None:
    with pytest.raises(ValueError, match="invalid source name"):
        remove_source(ctx, "../docs")


def test_the_index_cache_stops_serving_a_removed_source_and_deletes_its_copies(
    ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    _uploaded_source(ctx, tmp_path, "docs")
    make_and_publish(ctx.store, tmp_path / "hb", SAMPLE_DOCS)
    cache = IndexCache(settings, ctx.store)
    cache.refresh()
    assert set(cache.indexes) == {"docs", "handbook"}
    held = SearchEngine(cache.indexes)  # a request in flight on the removed source
    remove_source(ctx, "docs")
    assert cache.refresh() is True
    assert set(cache.indexes) == {"handbook"}
    assert [s.source for s in cache.status().sources] == ["handbook"]
    assert held.get_document("people/vacation.md", source="docs").title  # still readable
    del held
    gc.collect()
    cache.refresh()
    assert not (settings.cache_dir / "docs").exists()
    assert cache.refresh() is False


def test_copies_of_a_source_removed_while_no_server_ran_go_at_the_next_start(
    ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    """A new server finds the removed source's copies on its disk: they go at its first poll
    that reaches the store, so an outage later cannot serve them as fallbacks."""
    _uploaded_source(ctx, tmp_path, "docs")
    IndexCache(settings, ctx.store).refresh()  # an earlier process, now gone
    assert (settings.cache_dir / "docs").is_dir()
    (settings.cache_dir / "notes").mkdir()  # not a source's copies: left alone
    (settings.cache_dir / "notes" / "todo.txt").write_text("keep me")
    remove_source(ctx, "docs")
    IndexCache(settings, ctx.store).refresh()
    assert not (settings.cache_dir / "docs").exists()
    assert (settings.cache_dir / "notes" / "todo.txt").read_text() == "keep me"
