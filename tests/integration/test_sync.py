"""Mirroring sources into the real fake GCS: local folders, uploads, and GitLab (respx)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from thoth.bucket.keys import source_prefix, sync_state_key
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.sources.directory import list_directory
from thoth.ingest.sources.gitlab import GitLabClient
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.roots import FolderNotAllowedError
from thoth.ingest.sources.sync import EmptySourceError, sync_source, upload_directory

CORPUS = Path(__file__).resolve().parents[3] / "shared/corpora/sourcegraph-handbook"


def mirror(store: BlobStore, source: str) -> dict[str, bytes]:
    """The mirrored files of a source, by relative path."""
    prefix = source_prefix(source)
    return {
        obj.key.removeprefix(prefix): store.read(obj.key)[0] for obj in store.list_objects(prefix)
    }


def write(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


FILES = {
    "index.md": b"# Handbook\n",
    "people/leave.md": b"# Leave\n25 days.\n",
    "people/benefits.pdf": b"%PDF-1.4 fake",
    "engineering/deep/nested/on-call.md": b"# On call\n",
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """dir sources may read the test's own folders (and the shared corpus), nothing else."""
    roots = [str(tmp_path), "/nonexistent", str(CORPUS)]
    return settings.model_copy(update={"source_roots": roots})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "handbook"
    write(root, FILES)
    return root


def dir_source(folder: Path) -> SourceConfig:
    return SourceConfig(name="hb", kind="dir", directory=str(folder))


# --- local folders ------------------------------------------------------------------------
def test_dir_first_sync_adds_all_then_nothing_changes(
    store: BlobStore, settings: Settings, folder: Path
) -> None:
    seen: list[tuple[int, int]] = []
    report = sync_source(
        store, dir_source(folder), settings=settings, progress=lambda d, t: seen.append((d, t))
    )
    assert (report.added, report.changed, report.deleted, report.unchanged) == (4, 0, 0, 0)
    assert report.added_paths == sorted(FILES)
    assert report.errors == []
    assert mirror(store, "hb") == FILES
    assert seen[0] == (0, 4)
    assert seen[-1] == (4, 4)
    leave = store._bucket.get_blob("sources/hb/people/leave.md")
    assert leave.content_type == "text/markdown"

    again = sync_source(store, dir_source(folder), settings=settings)
    assert (again.added, again.changed, again.deleted, again.unchanged) == (0, 0, 0, 4)


def test_dir_modify_delete_add(store: BlobStore, settings: Settings, folder: Path) -> None:
    sync_source(store, dir_source(folder), settings=settings)
    (folder / "people/leave.md").write_bytes(b"# Leave\n30 days.\n")
    (folder / "people/benefits.pdf").unlink()
    write(folder, {"security/passwords.md": b"# Passwords\n"})

    report = sync_source(store, dir_source(folder), settings=settings)

    assert (report.added, report.changed, report.deleted, report.unchanged) == (1, 1, 1, 2)
    assert report.added_paths == ["security/passwords.md"]
    assert report.changed_paths == ["people/leave.md"]
    assert report.deleted_paths == ["people/benefits.pdf"]
    expected = {**FILES, "people/leave.md": b"# Leave\n30 days.\n"}
    del expected["people/benefits.pdf"]
    expected["security/passwords.md"] = b"# Passwords\n"
    assert mirror(store, "hb") == expected


def test_same_size_edit_is_detected_by_md5(
    store: BlobStore, settings: Settings, folder: Path
) -> None:
    sync_source(store, dir_source(folder), settings=settings)
    (folder / "index.md").write_bytes(b"# Handbooc\n")  # same length, other bytes
    report = sync_source(store, dir_source(folder), settings=settings)
    assert report.changed_paths == ["index.md"]
    assert mirror(store, "hb")["index.md"] == b"# Handbooc\n"


def test_hidden_files_symlinks_and_unsafe_names(
    store: BlobStore, settings: Settings, folder: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.md"
    outside.write_bytes(b"secret")
    write(folder, {".git/config": b"[core]", ".DS_Store": b"x", "people/.draft.md": b"x"})
    (folder / "escape.md").symlink_to(outside)
    (folder / "linked-dir").symlink_to(tmp_path)
    (folder / "alias.md").symlink_to(folder / "index.md")
    (folder / "bad\\name.md").write_bytes(b"x")
    (folder / "line\nbreak.md").write_bytes(b"x")

    report = sync_source(store, dir_source(folder), settings=settings)

    stored = mirror(store, "hb")
    assert stored == {**FILES, "alias.md": FILES["index.md"]}
    errors = {error.path: error.message for error in report.errors}
    assert set(errors) == {"escape.md", "linked-dir", "bad\\name.md", "line\nbreak.md"}
    assert "outside the source folder" in errors["escape.md"]
    assert "backslash" in errors["bad\\name.md"]
    assert "control" in errors["line\nbreak.md"]
    assert b"secret" not in b"".join(stored.values())


def test_files_over_the_limit_are_reported_not_mirrored(
    store: BlobStore, settings: Settings, folder: Path
) -> None:
    sync_source(store, dir_source(folder), settings=settings)
    (folder / "people/benefits.pdf").write_bytes(b"x" * 100)
    small = settings.model_copy(update={"max_file_bytes": 50})

    report = sync_source(store, dir_source(folder), settings=small)

    assert [error.path for error in report.errors] == ["people/benefits.pdf"]
    assert "max_file_bytes=50" in report.errors[0].message
    assert report.deleted_paths == ["people/benefits.pdf"]  # the stale copy goes
    assert "people/benefits.pdf" not in mirror(store, "hb")


def test_empty_folder_never_wipes_the_mirror(
    store: BlobStore, settings: Settings, folder: Path, tmp_path: Path
) -> None:
    sync_source(store, dir_source(folder), settings=settings)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmptySourceError, match="refusing"):
        sync_source(store, dir_source(empty), settings=settings)
    assert mirror(store, "hb") == FILES


def test_missing_folder_is_a_clear_error(store: BlobStore, settings: Settings) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sync_source(store, dir_source(Path("/nonexistent/thoth")), settings=settings)


@pytest.mark.parametrize("directory", ["/", "/proc/self", "/etc", "{tmp}/../.."])
def test_dir_sources_only_read_under_the_configured_roots(
    store: BlobStore, settings: Settings, tmp_path: Path, directory: str
) -> None:
    config = SourceConfig(name="hb", kind="dir", directory=directory.format(tmp=tmp_path))
    with pytest.raises(FolderNotAllowedError, match="THOTH_SOURCE_ROOTS"):
        sync_source(store, config, settings=settings)
    assert mirror(store, "hb") == {}


def test_a_link_out_of_the_roots_is_refused(
    store: BlobStore, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "escape").symlink_to("/etc")
    config = SourceConfig(name="hb", kind="dir", directory=str(tmp_path / "escape"))
    with pytest.raises(FolderNotAllowedError):
        sync_source(store, config, settings=settings)


def test_no_dir_source_without_roots(store: BlobStore, settings: Settings, folder: Path) -> None:
    closed = settings.model_copy(update={"source_roots": []})
    with pytest.raises(FolderNotAllowedError, match="none are configured"):
        sync_source(store, dir_source(folder), settings=closed)


def test_upload_directory_then_upload_source_reports_unchanged(
    store: BlobStore, settings: Settings, folder: Path
) -> None:
    report = upload_directory(store, "uploads", folder, settings=settings)
    assert report.added == 4
    assert mirror(store, "uploads") == FILES

    uploads = SourceConfig(name="uploads", kind="upload")
    listed = sync_source(store, uploads, settings=settings)
    assert (listed.added, listed.changed, listed.deleted, listed.unchanged) == (0, 0, 0, 4)

    (folder / "index.md").unlink()
    again = upload_directory(store, "uploads", folder, settings=settings)
    assert again.deleted_paths == ["index.md"]


def test_directory_listing_is_sorted_and_lazy(folder: Path) -> None:
    listing = list_directory(folder)
    assert [file.path for file in listing.files] == sorted(FILES)
    first = listing.files[0]
    assert first.size == len(FILES[first.path])
    assert first.read() == FILES[first.path]


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared sourcegraph corpus not present")
def test_sourcegraph_handbook_sync(
    store: BlobStore, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    config = SourceConfig(name="sourcegraph", kind="dir", directory=str(CORPUS))
    started = time.monotonic()
    first = sync_source(store, config, settings=settings)
    first_seconds = time.monotonic() - started
    second = sync_source(store, config, settings=settings)
    files = sum(len(names) for _, _, names in os.walk(CORPUS))
    assert first.added == files - len(first.errors) >= 880
    assert second.unchanged == first.added
    assert second.added == second.changed == second.deleted == 0
    with capsys.disabled():
        print(f"\nsourcegraph: first sync {first_seconds:.1f}s, second {second.seconds:.1f}s")


# --- GitLab -------------------------------------------------------------------------------
GL = "https://gitlab.example.com"
PROJECT = "/api/v4/projects/acme%2Fhandbook"
API = f"{PROJECT}/repository"
BLOBS = {"a1": b"# A\n", "b1": b"# B\n", "c1": b"# C v1\n", "c2": b"# C v2\n", "d1": b"# D\n"}


class FakeGitLab:
    """A respx-mocked repository whose tree can change between syncs."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.tree: dict[str, str] = {}
        self.tree_route = router.get(f"{API}/tree").mock(side_effect=self._tree)
        router.get(PROJECT).respond(200, json={"web_url": f"{GL}/acme/handbook"})
        router.get(url__regex=rf"{API}/commits/[^/]+$").mock(side_effect=self._head)
        router.get(f"{API}/compare").respond(404, json={"message": "404 Ref Not Found"})
        self.blob_routes = {
            sha: router.get(f"{API}/blobs/{sha}/raw").respond(200, content=data)
            for sha, data in BLOBS.items()
        }

    def _tree(self, request: httpx.Request) -> httpx.Response:
        prefix = request.url.params.get("path", "") + "/"
        items = [
            {"id": sha, "type": "blob", "path": path, "name": path.rsplit("/", 1)[-1]}
            for path, sha in self.tree.items()
            if path.startswith(prefix)
        ]
        return httpx.Response(200, json=items, headers={"X-Next-Page": ""})

    def _head(self, request: httpx.Request) -> httpx.Response:
        """A commit id that changes with the tree. Compare answers 404, so every sync lists
        the tree (test_push_sync.py covers compare against the local GitLab)."""
        digest = hashlib.sha1(repr(sorted(self.tree.items())).encode(), usedforsecurity=False)
        return httpx.Response(200, json={"id": digest.hexdigest()})

    def fetched(self) -> dict[str, int]:
        return {sha: route.call_count for sha, route in self.blob_routes.items() if route.called}

    def reset(self) -> None:
        for route in self.blob_routes.values():
            route.reset()


@pytest.fixture
def gitlab() -> Iterator[tuple[FakeGitLab, GitLabClient]]:
    with respx.mock(base_url=GL, assert_all_called=False) as router:
        fake = FakeGitLab(router)
        with GitLabClient(GL, "token", sleep=lambda _: None, max_retries=1) as client:
            yield fake, client


GITLAB_SOURCE = SourceConfig(
    name="gl", kind="gitlab", gitlab_project="acme/handbook", path_prefix="content/handbook"
)


def test_gitlab_full_then_incremental(
    store: BlobStore, settings: Settings, gitlab: tuple[FakeGitLab, GitLabClient]
) -> None:
    fake, client = gitlab
    fake.tree = {
        "content/handbook/a.md": "a1",
        "content/handbook/team/b.md": "b1",
        "content/handbook/c.md": "c1",
        "README.md": "d1",  # outside the prefix: GitLab does not list it
    }
    first = sync_source(store, GITLAB_SOURCE, settings=settings, gitlab=client)
    assert first.added_paths == ["a.md", "c.md", "team/b.md"]
    assert fake.fetched() == {"a1": 1, "b1": 1, "c1": 1}
    assert mirror(store, "gl") == {"a.md": b"# A\n", "team/b.md": b"# B\n", "c.md": b"# C v1\n"}
    state = store.read_json(sync_state_key("gl"))[0]["blobs"]
    assert state == {"a.md": "a1", "c.md": "c1", "team/b.md": "b1"}

    fake.reset()
    fake.tree["content/handbook/c.md"] = "c2"  # changed
    del fake.tree["content/handbook/team/b.md"]  # deleted upstream
    fake.tree["content/handbook/d.md"] = "d1"  # added
    second = sync_source(store, GITLAB_SOURCE, settings=settings, gitlab=client)

    assert fake.fetched() == {"c2": 1, "d1": 1}  # only what changed was downloaded
    assert (second.added, second.changed, second.deleted, second.unchanged) == (1, 1, 1, 1)
    assert mirror(store, "gl") == {"a.md": b"# A\n", "c.md": b"# C v2\n", "d.md": b"# D\n"}

    fake.reset()
    third = sync_source(store, GITLAB_SOURCE, settings=settings, gitlab=client, full=True)
    assert fake.fetched() == {"a1": 1, "c2": 1, "d1": 1}
    assert third.changed == 3


def test_gitlab_object_removed_from_mirror_is_fetched_again(
    store: BlobStore, settings: Settings, gitlab: tuple[FakeGitLab, GitLabClient]
) -> None:
    fake, client = gitlab
    fake.tree = {"content/handbook/a.md": "a1", "content/handbook/b.md": "b1"}
    sync_source(store, GITLAB_SOURCE, settings=settings, gitlab=client)
    store.delete("sources/gl/a.md")
    fake.reset()
    report = sync_source(store, GITLAB_SOURCE, settings=settings, gitlab=client)
    assert fake.fetched() == {"a1": 1}
    assert report.added_paths == ["a.md"]


def test_gitlab_config_change_ignores_old_state(
    store: BlobStore, settings: Settings, gitlab: tuple[FakeGitLab, GitLabClient]
) -> None:
    fake, client = gitlab
    fake.tree = {"content/handbook/a.md": "a1"}
    sync_source(store, GITLAB_SOURCE, settings=settings, gitlab=client)
    fake.reset()
    other_ref = GITLAB_SOURCE.model_copy(update={"gitlab_ref": "release"})
    sync_source(store, other_ref, settings=settings, gitlab=client)
    assert fake.fetched() == {"a1": 1}


def test_gitlab_unsafe_paths_are_reported_and_never_written(
    store: BlobStore, settings: Settings, gitlab: tuple[FakeGitLab, GitLabClient]
) -> None:
    fake, client = gitlab
    fake.tree = {
        "content/handbook/a.md": "a1",
        "content/handbook/../../escape.md": "b1",
        "content/handbook/x/../../../up.md": "c1",
    }
    report = sync_source(store, GITLAB_SOURCE, settings=settings, gitlab=client)
    assert sorted(error.path for error in report.errors) == [
        "content/handbook/../../escape.md",
        "content/handbook/x/../../../up.md",
    ]
    assert all("'..'" in error.message for error in report.errors)
    assert fake.fetched() == {"a1": 1}
    assert [obj.key for obj in store.list_objects("")] == [
        "registry/sync/gl.json",
        "sources/gl/a.md",
    ]


def test_gitlab_failed_download_keeps_old_copy_and_retries_next_time(
    store: BlobStore, settings: Settings, gitlab: tuple[FakeGitLab, GitLabClient]
) -> None:
    fake, client = gitlab
    fake.tree = {"content/handbook/a.md": "a1", "content/handbook/c.md": "c1"}
    sync_source(store, GITLAB_SOURCE, settings=settings, gitlab=client)

    fake.tree["content/handbook/c.md"] = "c2"
    fake.blob_routes["c2"].respond(502)
    report = sync_source(store, GITLAB_SOURCE, settings=settings, gitlab=client)
    assert [error.path for error in report.errors] == ["c.md"]
    assert "502" in report.errors[0].message
    assert mirror(store, "gl")["c.md"] == b"# C v1\n"

    fake.blob_routes["c2"].respond(200, content=BLOBS["c2"])
    fake.reset()
    retried = sync_source(store, GITLAB_SOURCE, settings=settings, gitlab=client)
    assert fake.fetched() == {"c2": 1}
    assert retried.changed_paths == ["c.md"]
    assert mirror(store, "gl")["c.md"] == b"# C v2\n"


def test_gitlab_file_over_the_limit(
    store: BlobStore, settings: Settings, gitlab: tuple[FakeGitLab, GitLabClient]
) -> None:
    fake, client = gitlab
    fake.tree = {"content/handbook/a.md": "a1", "content/handbook/c.md": "c1"}
    small = settings.model_copy(update={"max_file_bytes": 5})  # "# C v1\n" is 7 bytes
    report = sync_source(store, GITLAB_SOURCE, settings=small, gitlab=client)
    assert [error.path for error in report.errors] == ["c.md"]
    assert "max_file_bytes=5" in report.errors[0].message
    assert mirror(store, "gl") == {"a.md": b"# A\n"}


def test_gitlab_empty_tree_never_wipes_the_mirror(
    store: BlobStore, settings: Settings, gitlab: tuple[FakeGitLab, GitLabClient]
) -> None:
    fake, client = gitlab
    fake.tree = {"content/handbook/a.md": "a1"}
    sync_source(store, GITLAB_SOURCE, settings=settings, gitlab=client)
    fake.tree = {}
    with pytest.raises(EmptySourceError, match="path_prefix"):
        sync_source(store, GITLAB_SOURCE, settings=settings, gitlab=client)
    assert mirror(store, "gl") == {"a.md": b"# A\n"}
