"""The REST API answers what git says about the same repository."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from .support import BIG, BIG_FILES, HANDBOOK, PROJECT, Emulator, Git, encoded


@pytest.fixture
def api(emulator: Emulator) -> httpx.Client:
    return emulator.api()


def _project_id(api: httpx.Client, path: str) -> int:
    return int(api.get(f"/projects/{encoded(path)}").json()["id"])


def test_project_by_id_and_by_encoded_path(api: httpx.Client, emulator: Emulator) -> None:
    by_path = api.get(f"/projects/{encoded(PROJECT)}")
    assert by_path.status_code == 200
    body = by_path.json()
    assert body["path_with_namespace"] == PROJECT
    assert body["default_branch"] == "main"
    assert body["visibility"] == "private"
    assert body["http_url_to_repo"] == f"{emulator.url}/{PROJECT}.git"
    assert body["namespace"]["full_path"] == "group"
    assert api.get(f"/projects/{body['id']}").json() == body


def test_tree_after_a_push_matches_git(
    api: httpx.Client, emulator: Emulator, clone: Callable[..., Git]
) -> None:
    work = clone(emulator.git_url(PROJECT))
    (work.cwd / "docs" / "tree-test.md").write_text("tree\n")
    work.commit_all("Tree test")
    work.run("push", "--quiet", "origin", "main")
    tree = api.get(
        f"/projects/{encoded(PROJECT)}/repository/tree",
        params={"recursive": "true", "per_page": 100},
    ).json()
    blobs = {e["path"]: e["id"] for e in tree if e["type"] == "blob"}
    listed = work.out("ls-tree", "-r", "HEAD").splitlines()
    expected = {line.split("\t")[1]: line.split()[2] for line in listed}
    assert blobs == expected
    assert {"docs", "docs/guides", "people"} <= {e["path"] for e in tree if e["type"] == "tree"}


def test_tree_of_a_path_not_recursive(api: httpx.Client) -> None:
    tree = api.get(f"/projects/{encoded(PROJECT)}/repository/tree", params={"path": "docs"}).json()
    assert (tree[0]["type"], tree[0]["name"]) == ("tree", "guides")
    assert {"path": "docs/intro.md", "type": "blob", "name": "intro.md"}.items() <= next(
        e for e in tree if e["name"] == "intro.md"
    ).items()


def test_tree_unknown_ref_or_path_is_404(api: httpx.Client) -> None:
    base = f"/projects/{encoded(PROJECT)}/repository/tree"
    for params in ({"ref": "nope"}, {"path": "missing"}):
        response = api.get(base, params=params)
        assert response.status_code == 404
        assert response.json() == {"message": "404 Tree Not Found"}


def test_blob_raw_is_the_file_content(api: httpx.Client) -> None:
    tree = api.get(f"/projects/{encoded(PROJECT)}/repository/tree", params={"recursive": "true"})
    blob = next(e for e in tree.json() if e["path"] == "people/leave.md")
    raw = api.get(f"/projects/{encoded(PROJECT)}/repository/blobs/{blob['id']}/raw")
    assert raw.status_code == 200
    assert raw.content == HANDBOOK["people/leave.md"].encode()
    assert raw.headers["content-type"].startswith("text/plain")
    missing = api.get(f"/projects/{encoded(PROJECT)}/repository/blobs/{'0' * 40}/raw")
    assert missing.status_code == 404
    assert missing.json() == {"message": "404 Blob Not Found"}


def test_binary_blob_is_octet_stream(
    api: httpx.Client, emulator: Emulator, clone: Callable[..., Git]
) -> None:
    work = clone(emulator.git_url(PROJECT))
    data = bytes(range(256))
    (work.cwd / "logo.bin").write_bytes(data)
    work.commit_all("Binary")
    work.run("push", "--quiet", "origin", "main")
    raw = api.get(f"/projects/{encoded(PROJECT)}/repository/files/logo.bin/raw")
    assert raw.content == data
    assert raw.headers["content-type"] == "application/octet-stream"


def test_file_raw_by_encoded_path_and_ref(api: httpx.Client, emulator: Emulator) -> None:
    url = f"/projects/{encoded(PROJECT)}/repository/files/{encoded('docs/guides/setup.md')}/raw"
    raw = api.get(url, params={"ref": "main"})
    assert raw.status_code == 200
    assert raw.text == HANDBOOK["docs/guides/setup.md"]
    assert raw.headers["x-gitlab-file-path"] == "docs/guides/setup.md"
    assert raw.headers["x-gitlab-ref"] == "main"
    missing = api.get(url.replace("setup.md", "nope.md"))
    assert missing.status_code == 404
    assert missing.json() == {"message": "404 File Not Found"}


def test_compare_between_two_commits(
    api: httpx.Client, emulator: Emulator, clone: Callable[..., Git]
) -> None:
    work = clone(emulator.git_url(PROJECT))
    before = work.out("rev-parse", "HEAD")
    (work.cwd / "added.md").write_text("added\n")
    (work.cwd / "people" / "leave.md").write_text("# Leave\n\n30 days.\n")
    work.run("rm", "--quiet", "docs/intro.md")
    work.run("mv", "docs/guides/setup.md", "docs/guides/install.md")
    first = work.commit_all("Change things")
    (work.cwd / "added.md").write_text("added twice\n")
    second = work.commit_all("Change again")
    work.run("push", "--quiet", "origin", "main")
    body = api.get(
        f"/projects/{encoded(PROJECT)}/repository/compare", params={"from": before, "to": second}
    ).json()
    assert [c["id"] for c in body["commits"]] == [first, second]
    assert body["commit"]["id"] == second
    diffs = {d["new_path"]: d for d in body["diffs"]}
    assert diffs["added.md"]["new_file"] is True
    assert diffs["people/leave.md"]["new_file"] is False
    assert "+30 days." in diffs["people/leave.md"]["diff"]
    assert diffs["docs/intro.md"]["deleted_file"] is True
    renamed = diffs["docs/guides/install.md"]
    assert renamed["renamed_file"] is True and renamed["old_path"] == "docs/guides/setup.md"
    names = work.out("diff", "--name-only", "--no-renames", before, second).splitlines()
    assert {p for d in body["diffs"] for p in (d["old_path"], d["new_path"])} == set(names)


def test_compare_unknown_ref_is_404(api: httpx.Client) -> None:
    response = api.get(
        f"/projects/{encoded(PROJECT)}/repository/compare", params={"from": "main", "to": "nope"}
    )
    assert response.status_code == 404
    assert response.json() == {"message": "404 Ref Not Found"}


def test_commits_list_path_filter_and_single_commit(
    api: httpx.Client, emulator: Emulator, clone: Callable[..., Git]
) -> None:
    work = clone(emulator.git_url(PROJECT))
    (work.cwd / "people" / "hours.md").write_text("# Hours\n")
    sha = work.commit_all("Add hours\n\nLonger body.")
    work.run("push", "--quiet", "origin", "main")
    base = f"/projects/{encoded(PROJECT)}/repository/commits"
    listed = api.get(base, params={"ref_name": "main", "per_page": 100})
    assert [c["id"] for c in listed.json()] == work.out("log", "--format=%H").splitlines()
    assert listed.headers["x-total"] == str(len(listed.json()))
    only = api.get(base, params={"path": "people/hours.md"}).json()
    assert [c["id"] for c in only] == [sha]
    single = api.get(f"{base}/{sha}").json()
    assert single["title"] == "Add hours"
    assert single["message"].startswith("Add hours\n\nLonger body.")
    assert single["author_email"] == "ada@example.com"
    assert single["stats"] == {"additions": 1, "deletions": 0, "total": 1}
    assert api.get(f"{base}/{'f' * 40}").json() == {"message": "404 Commit Not Found"}


def test_branch(api: httpx.Client, emulator: Emulator, clone: Callable[..., Git]) -> None:
    work = clone(emulator.git_url(PROJECT))
    work.run("push", "--quiet", "origin", "HEAD:refs/heads/feature/x")
    body = api.get(f"/projects/{encoded(PROJECT)}/repository/branches/{encoded('feature/x')}")
    assert body.status_code == 200
    assert body.json()["name"] == "feature/x"
    assert body.json()["commit"]["id"] == work.out("rev-parse", "HEAD")
    assert body.json()["default"] is False
    missing = api.get(f"/projects/{encoded(PROJECT)}/repository/branches/nope")
    assert missing.json() == {"message": "404 Branch Not Found"}


def test_pagination_over_more_than_100_files(api: httpx.Client, emulator: Emulator) -> None:
    url = f"/projects/{encoded(BIG)}/repository/tree"
    first = api.get(url, params={"recursive": "true", "per_page": 100})
    assert first.headers["x-page"] == "1"
    assert first.headers["x-per-page"] == "100"
    assert first.headers["x-next-page"] == "2"
    assert first.headers["x-total"] == str(BIG_FILES + 1)  # the files and their folder
    assert first.headers["x-total-pages"] == "2"
    assert 'rel="next"' in first.headers["link"]
    second = httpx.get(first.links["next"]["url"], headers=api.headers)
    assert second.headers["x-page"] == "2"
    assert second.headers["x-next-page"] == ""
    assert 'rel="next"' not in second.headers["link"]
    paths = [e["path"] for e in first.json() + second.json() if e["type"] == "blob"]
    assert len(paths) == len(set(paths)) == BIG_FILES
    capped = api.get(url, params={"recursive": "true", "per_page": 1000})
    assert capped.headers["x-per-page"] == "100"
    default = api.get(url, params={"recursive": "true"})
    assert default.headers["x-per-page"] == "20"
    assert _project_id(api, BIG) > 0


def test_unknown_route_is_404(api: httpx.Client) -> None:
    response = api.get(f"/projects/{encoded(PROJECT)}/nothing")
    assert response.status_code == 404
    assert response.json() == {"error": "404 Not Found"}
