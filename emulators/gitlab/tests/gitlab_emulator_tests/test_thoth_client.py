"""The real thoth GitLabClient (from this checkout's src/) against the emulator."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .support import BIG, BIG_FILES, PROJECT, PUBLIC, TOKEN, Emulator, Git, thoth_gitlab

gitlab = thoth_gitlab()


def test_lists_the_tree_and_fetches_files(emulator: Emulator, clone: Callable[..., Git]) -> None:
    work = clone(emulator.git_url(PROJECT))
    with gitlab.GitLabClient(emulator.url, TOKEN) as client:
        tree = client.list_tree(PROJECT, "main")
        expected = {
            line.split("\t")[1]: line.split()[2]
            for line in work.out("ls-tree", "-r", "HEAD").splitlines()
        }
        assert {e.path: e.blob_id for e in tree.entries} == expected
        for entry in tree.entries:
            content = client.get_file(PROJECT, entry.blob_id)
            assert content == (work.cwd / entry.path).read_bytes()


def test_path_prefix_and_numeric_project_id(emulator: Emulator) -> None:
    with gitlab.GitLabClient(emulator.url, TOKEN) as client:
        project_id = emulator.api().get("/projects/group%2Fhandbook").json()["id"]
        tree = client.list_tree(project_id, "main", "people")
    assert [e.path for e in tree.entries if e.path.startswith("people/")] == [
        e.path for e in tree.entries
    ]
    assert any(e.path == "people/leave.md" for e in tree.entries)


def test_follows_pages_over_100_files(emulator: Emulator) -> None:
    with gitlab.GitLabClient(emulator.url, TOKEN) as client:
        tree = client.list_tree(BIG, "main")
    assert len(tree.entries) == BIG_FILES


def test_anonymous_reads_a_public_project(emulator: Emulator) -> None:
    with gitlab.GitLabClient(emulator.url, None) as client:
        tree = client.list_tree(PUBLIC, "main")
        assert client.get_file(PUBLIC, tree.entries[0].blob_id) == b"# Public\n"


def test_auth_and_not_found_errors(emulator: Emulator) -> None:
    with (
        gitlab.GitLabClient(emulator.url, "wrong") as client,
        pytest.raises(gitlab.GitLabAuthError),
    ):
        client.list_tree(PROJECT, "main")
    with (
        gitlab.GitLabClient(emulator.url, None) as client,
        pytest.raises(gitlab.GitLabNotFoundError),
    ):
        client.list_tree(PROJECT, "main")
    with (
        gitlab.GitLabClient(emulator.url, TOKEN) as client,
        pytest.raises(gitlab.GitLabNotFoundError),
    ):
        client.list_tree(PROJECT, "no-such-branch")
