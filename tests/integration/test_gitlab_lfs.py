"""Files kept in Git LFS, synced from the local GitLab: the mirror holds the file, not its
pointer; the sync state keeps git's blob id (the pointer's), so an unchanged file is not
fetched again; a pointer whose object GitLab lacks is reported, does not hold the sync back,
and is fetched once the object is there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.support.gitlab import Clone, LocalGitLab, lfs_pointer_file, lfs_push, local_gitlab
from tests.support.tasks import RecordingTasks
from thoth.bucket.keys import source_key
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.plan import plan_job
from thoth.ingest.pipeline.start import start_job
from thoth.ingest.sources.gitlab_changes import git_blob_id
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import save_source
from thoth.ingest.sources.sync import sync_source
from thoth.ingest.sources.sync_state import load_state

PROJECT = "group/lfs-handbook"
POLICY = b"%PDF-1.4\n% the travel policy, kept in LFS\n" + bytes(range(256)) * 4
LOST = b"%PDF-1.4\n% pushed to LFS only after its pointer\n"


@pytest.fixture(scope="module")
def gitlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGitLab]:
    workdir = tmp_path_factory.mktemp("lfs")
    seed = workdir / "seed"
    seed.mkdir()
    (seed / "index.md").write_text("# Handbook\n\nWelcome.\n")
    with local_gitlab(workdir, seed, [PROJECT]) as running:
        yield running


def test_lfs_files_are_mirrored_as_their_objects(
    gitlab: LocalGitLab, settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"gitlab_url": gitlab.url, "gitlab_token": SecretStr(gitlab.token)}
    )
    clone = Clone.of(gitlab, PROJECT, tmp_path / "clone")
    clone.write("policies/travel.pdf", lfs_pointer_file(POLICY))
    clone.write("policies/lost.pdf", lfs_pointer_file(LOST))
    clone.commit_and_push("Policies in LFS")
    lfs_push(gitlab, PROJECT, POLICY)
    name = f"gl-{uuid.uuid4().hex[:8]}"
    config = SourceConfig(name=name, kind="gitlab", gitlab_project=PROJECT)
    save_source(store, config)

    first = sync_source(store, config, settings=settings)

    assert store.read(source_key(name, "policies/travel.pdf"))[0] == POLICY
    assert not store.exists(source_key(name, "policies/lost.pdf"))
    lost = [error for error in first.errors if error.path == "policies/lost.pdf"]
    assert lost and "Git LFS pointer" in lost[0].message and not first.incomplete
    # The state holds git's blob ids (the pointers'), which the tree listing compares.
    state, _ = load_state(store, config)
    assert state.blobs["policies/travel.pdf"] == git_blob_id(lfs_pointer_file(POLICY))
    assert state.blobs["policies/lost.pdf"] == git_blob_id(lfs_pointer_file(LOST))

    # The missing object is pushed later, with no new commit: the next sync lists the tree
    # (a file of its state is not in the mirror) and fetches it; travel.pdf is unchanged.
    lfs_push(gitlab, PROJECT, LOST)
    again = sync_source(store, config, settings=settings)
    assert again.changes_from.startswith("listing") and not again.errors
    assert again.added_paths == ["policies/lost.pdf"] and again.changed_paths == []
    assert store.read(source_key(name, "policies/lost.pdf"))[0] == LOST

    # A new version of the file: found by compare, fetched from LFS again.
    updated = POLICY + b"\n% revised\n"
    clone.write("policies/travel.pdf", lfs_pointer_file(updated))
    clone.commit_and_push("Revise the travel policy")
    lfs_push(gitlab, PROJECT, updated)
    third = sync_source(store, config, settings=settings)
    assert third.changed_paths == ["policies/travel.pdf"]
    assert store.read(source_key(name, "policies/travel.pdf"))[0] == updated


def test_a_job_names_the_lfs_file_it_could_not_read(
    gitlab: LocalGitLab, settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    """Files the sync leaves out for good reason are the job's skipped files, with the
    reason, where `thoth jobs ID` shows them."""
    settings = settings.model_copy(
        update={"gitlab_url": gitlab.url, "gitlab_token": SecretStr(gitlab.token)}
    )
    clone = Clone.of(gitlab, PROJECT, tmp_path / "clone")
    clone.write("policies/unpushed.pdf", lfs_pointer_file(b"an object never pushed"))
    clone.commit_and_push("A pointer without its object")
    name = f"gl-{uuid.uuid4().hex[:8]}"
    save_source(store, SourceConfig(name=name, kind="gitlab", gitlab_project=PROJECT))
    ctx = Context(settings, store, RecordingTasks())

    job = plan_job(ctx, start_job(ctx, name).job_id)

    progress = ctx.jobs.progress(job.job_id)
    failed = [f for f in progress.errors if f.path == "policies/unpushed.pdf"]
    assert failed and "Git LFS pointer" in str(failed[0].error)
    assert failed[0].outcome == "skipped" and progress.counts.skipped >= 1
