"""The GitLab client against a respx-mocked REST API v4: pagination, retries, errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from thoth.ingest.sources.gitlab import (
    FileTooLargeError,
    GitLabAuthError,
    GitLabClient,
    GitLabError,
    GitLabNotFoundError,
    LfsObjectUnavailable,
    TreeEntry,
)
from thoth.ingest.sources.lfs import LfsPointer, lfs_pointer

BASE = "https://gitlab.example.com"
TOKEN = "glpat-very-secret-token-123"
PROJECT = "handbook-group/handbook"
TREE = "/api/v4/projects/handbook-group%2Fhandbook/repository/tree"


def blob(path: str, sha: str) -> dict[str, str]:
    return {"id": sha, "name": path.rsplit("/", 1)[-1], "type": "blob", "path": path}


def folder(path: str) -> dict[str, str]:
    return {"id": "f" * 40, "name": path, "type": "tree", "path": path}


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> Iterator[GitLabClient]:
    with GitLabClient(BASE, TOKEN, sleep=sleeps.append, max_retries=5) as gitlab:
        yield gitlab


PAGES = [
    [folder("hb"), blob("hb/a.md", "a1"), blob("hb/b.md", "b1")],
    [folder("hb/team"), blob("hb/team/c.md", "c1")],
    [blob("hb/team/d.pdf", "d1")],
]


def test_tree_follows_x_next_page_over_three_pages(
    api: respx.MockRouter, client: GitLabClient
) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("page", "1"))
        following = str(number + 1) if number < len(PAGES) else ""
        return httpx.Response(200, json=PAGES[number - 1], headers={"X-Next-Page": following})

    route = api.get(TREE).mock(side_effect=page)
    tree = client.list_tree(PROJECT, "main", "hb")

    assert tree.entries == [
        TreeEntry("hb/a.md", "a1"),
        TreeEntry("hb/b.md", "b1"),
        TreeEntry("hb/team/c.md", "c1"),
        TreeEntry("hb/team/d.pdf", "d1"),
    ]
    assert tree.rejected == []
    assert route.call_count == 3
    first, last = route.calls[0].request, route.calls[2].request
    assert first.url.raw_path.startswith(TREE.encode())  # the project path is URL-encoded
    assert dict(first.url.params) == {
        "recursive": "true",
        "ref": "main",
        "path": "hb",
        "per_page": "100",
    }
    assert dict(last.url.params) == {**dict(first.url.params), "page": "3"}
    assert all(call.request.headers["PRIVATE-TOKEN"] == TOKEN for call in route.calls)


def test_tree_follows_link_next(api: respx.MockRouter, client: GitLabClient) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("page_token", "0")
        number = int(token)
        headers = {}
        if number + 1 < len(PAGES):
            following = f"{BASE}{TREE}?pagination=keyset&page_token={number + 1}"
            headers["Link"] = f'<{following}>; rel="next"'
        return httpx.Response(200, json=PAGES[number], headers=headers)

    route = api.get(TREE).mock(side_effect=page)
    tree = client.list_tree(PROJECT, "main")

    assert [entry.path for entry in tree.entries] == [
        "hb/a.md",
        "hb/b.md",
        "hb/team/c.md",
        "hb/team/d.pdf",
    ]
    assert route.call_count == 3
    assert "path" not in route.calls[0].request.url.params  # no prefix: whole repository


def test_pages_stay_on_the_configured_host_when_gitlab_names_another(
    api: respx.MockRouter, client: GitLabClient
) -> None:
    """GitLab writes Link with the host it is configured as (an internal name, another port
    behind a proxy): X-Next-Page moves the page on Thoth's own host instead."""
    foreign = "https://gitlab.internal.example/api/v4/projects/x/repository/tree"

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("page", "1"))
        headers = {"X-Next-Page": str(number + 1) if number < 3 else ""}
        if number < 3:
            headers["Link"] = f'<{foreign}?page={number + 1}&per_page=100>; rel="next"'
        entry = {"type": "blob", "path": f"hb/{number}.md", "id": str(number) * 40}
        return httpx.Response(200, json=[entry], headers=headers)

    route = api.get(TREE).mock(side_effect=page)
    tree = client.list_tree(PROJECT, "main")

    assert [entry.path for entry in tree.entries] == ["hb/1.md", "hb/2.md", "hb/3.md"]
    assert route.call_count == 3


def test_a_foreign_link_without_x_next_page_is_followed_on_the_configured_host(
    api: respx.MockRouter, client: GitLabClient
) -> None:
    """Keyset pages carry only a Link: its path and query go to Thoth's host, never the token
    to the host the Link names."""
    foreign = f"https://evil.example{httpx.URL(BASE).path.rstrip('/')}{TREE}"

    def page(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page_token") == "2":
            return httpx.Response(200, json=[])
        link = f'<{foreign}?pagination=keyset&page_token=2>; rel="next"'
        return httpx.Response(200, json=[], headers={"Link": link})

    route = api.get(TREE).mock(side_effect=page)
    client.list_tree(PROJECT, "main")

    assert route.call_count == 2
    assert {call.request.url.host for call in route.calls} == {httpx.URL(BASE).host}


def test_pagination_loop_is_detected(api: respx.MockRouter, client: GitLabClient) -> None:
    route = api.get(TREE).respond(json=[], headers={"Link": f'<{BASE}{TREE}?page=1>; rel="next"'})
    with pytest.raises(GitLabError, match="loops"):
        client.list_tree(PROJECT, "main")
    assert route.call_count == 2


def test_unsafe_tree_paths_are_rejected_and_reported(
    api: respx.MockRouter, client: GitLabClient
) -> None:
    api.get(TREE).respond(
        json=[
            blob("hb/ok.md", "1"),
            blob("hb/../../etc/passwd", "2"),
            blob("/abs.md", "3"),
            blob("hb/a\\b.md", "4"),
        ]
    )
    tree = client.list_tree(PROJECT, "main")
    assert tree.entries == [TreeEntry("hb/ok.md", "1")]
    assert [error.path for error in tree.rejected] == [
        "hb/../../etc/passwd",
        "/abs.md",
        "hb/a\\b.md",
    ]
    assert "'..'" in tree.rejected[0].message


def test_429_honours_retry_after(
    api: respx.MockRouter, client: GitLabClient, sleeps: list[float]
) -> None:
    route = api.get(TREE).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200, json=[blob("a.md", "1")]),
        ]
    )
    assert client.list_tree(PROJECT, "main").entries == [TreeEntry("a.md", "1")]
    assert route.call_count == 2
    assert sleeps == [7.0]


def test_retry_after_is_capped(
    api: respx.MockRouter, client: GitLabClient, sleeps: list[float]
) -> None:
    api.get(TREE).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3600"}),
            httpx.Response(200, json=[]),
        ]
    )
    client.list_tree(PROJECT, "main")
    assert sleeps == [60.0]


def test_a_429_without_retry_after_waits_for_ratelimit_reset(
    api: respx.MockRouter, client: GitLabClient, sleeps: list[float]
) -> None:
    reset = str(int(time.time()) + 12)
    api.get(TREE).mock(
        side_effect=[
            httpx.Response(429, headers={"RateLimit-Reset": reset}),
            httpx.Response(200, json=[]),
        ]
    )
    client.list_tree(PROJECT, "main")
    assert len(sleeps) == 1 and 10 < sleeps[0] <= 12


def test_a_bare_429_is_retried_for_longer_than_a_rate_limit_window(
    api: respx.MockRouter, client: GitLabClient, sleeps: list[float]
) -> None:
    """GitLab.com has answered 429 with neither Retry-After nor RateLimit-* headers
    (gitlab-org/gitlab#365728): the retries must outlast its one-minute window."""
    route = api.get(TREE).mock(
        side_effect=[*(httpx.Response(429) for _ in range(5)), httpx.Response(200, json=[])]
    )
    client.list_tree(PROJECT, "main")
    assert route.call_count == 6
    assert sleeps[0] >= 5 and sum(sleeps) > 60
    assert all(s <= 60 for s in sleeps)


def test_5xx_backs_off_exponentially_then_succeeds(
    api: respx.MockRouter, client: GitLabClient, sleeps: list[float]
) -> None:
    route = api.get(TREE).mock(
        side_effect=[httpx.Response(502), httpx.Response(502), httpx.Response(200, json=[])]
    )
    assert client.list_tree(PROJECT, "main").entries == []
    assert route.call_count == 3
    assert len(sleeps) == 2
    assert 0 < sleeps[0] < sleeps[1]


def test_transport_errors_are_retried(
    api: respx.MockRouter, client: GitLabClient, sleeps: list[float]
) -> None:
    route = api.get(TREE).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=[])]
    )
    client.list_tree(PROJECT, "main")
    assert route.call_count == 2
    assert len(sleeps) == 1


def test_5xx_forever_gives_up_with_a_clear_error(
    api: respx.MockRouter, client: GitLabClient, sleeps: list[float]
) -> None:
    route = api.get(TREE).respond(500)
    with pytest.raises(GitLabError) as caught:
        client.list_tree(PROJECT, "main")
    message = str(caught.value)
    assert route.call_count == 6  # 1 + max_retries
    assert len(sleeps) == 5
    assert "after 6 attempts" in message
    assert "500" in message
    assert TREE in message
    assert TOKEN not in message
    assert "?" not in message.split(TREE)[1].split()[0]  # the query string is not shown


def test_a_token_without_read_api_says_which_scope_is_needed(
    api: respx.MockRouter, client: GitLabClient, sleeps: list[float]
) -> None:
    body = {
        "error": "insufficient_scope",
        "error_description": "The request requires higher privileges than provided by the "
        "access token.",
        "scope": "api read_api",
    }
    api.get(TREE).respond(403, json=body)
    with pytest.raises(GitLabAuthError, match="needs a token with the read_api scope"):
        client.list_tree(PROJECT, "main")
    assert sleeps == []


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_token(
    api: respx.MockRouter, client: GitLabClient, sleeps: list[float], status: int
) -> None:
    route = api.get(TREE).respond(status, json={"message": "401 Unauthorized"})
    with pytest.raises(GitLabAuthError) as caught:
        client.list_tree(PROJECT, "main")
    message = str(caught.value)
    assert f"GitLab rejected the token ({status})" in message
    assert PROJECT in message
    assert "THOTH_GITLAB_TOKEN" in message
    assert TOKEN not in message
    assert TOKEN not in repr(caught.value)
    assert route.call_count == 1  # not retried
    assert sleeps == []


def test_anonymous_access_refused(api: respx.MockRouter) -> None:
    api.get(TREE).respond(401)
    with GitLabClient(BASE, None) as anonymous, pytest.raises(GitLabAuthError, match="anonymous"):
        anonymous.list_tree(PROJECT, "main")
    assert "PRIVATE-TOKEN" not in api.calls.last.request.headers


def test_missing_project_or_ref(api: respx.MockRouter, client: GitLabClient) -> None:
    api.get(TREE).respond(404, json={"message": "404 Tree Not Found"})
    with pytest.raises(GitLabNotFoundError, match=r"'handbook-group/handbook'.*'nope'.*not found"):
        client.list_tree(PROJECT, "nope")


def test_other_client_errors_are_not_retried(
    api: respx.MockRouter, client: GitLabClient, sleeps: list[float]
) -> None:
    route = api.get(TREE).respond(400)
    with pytest.raises(GitLabError, match="400"):
        client.list_tree(PROJECT, "main")
    assert route.call_count == 1


def test_invalid_json_is_a_clear_error(api: respx.MockRouter, client: GitLabClient) -> None:
    api.get(TREE).respond(200, content=b"<html>login</html>")
    with pytest.raises(GitLabError, match="invalid JSON"):
        client.list_tree(PROJECT, "main")


def test_numeric_project_id(api: respx.MockRouter, client: GitLabClient) -> None:
    route = api.get("/api/v4/projects/42/repository/tree").respond(json=[])
    client.list_tree(42, "main")
    assert route.called


RAW = "/api/v4/projects/handbook-group%2Fhandbook/repository/blobs/abc123/raw"


def test_get_file_by_blob_id(api: respx.MockRouter, client: GitLabClient) -> None:
    route = api.get(RAW).respond(200, content=b"# Title\n")
    assert client.get_file(PROJECT, "abc123") == b"# Title\n"
    assert route.calls.last.request.headers["PRIVATE-TOKEN"] == TOKEN


def test_get_file_retries_too(
    api: respx.MockRouter, client: GitLabClient, sleeps: list[float]
) -> None:
    api.get(RAW).mock(side_effect=[httpx.Response(503), httpx.Response(200, content=b"x")])
    assert client.get_file(PROJECT, "abc123") == b"x"
    assert len(sleeps) == 1


@pytest.mark.parametrize("declared", [True, False])
def test_get_file_over_the_limit(
    api: respx.MockRouter, client: GitLabClient, declared: bool
) -> None:
    def big(request: httpx.Request) -> httpx.Response:
        body: Any = b"x" * 2000
        if not declared:  # streamed without Content-Length
            body = iter([b"x" * 1000, b"x" * 1000])
        return httpx.Response(200, content=body)

    api.get(RAW).mock(side_effect=big)
    with pytest.raises(FileTooLargeError, match="1500-byte limit"):
        client.get_file(PROJECT, "abc123", max_bytes=1500)
    assert client.get_file(PROJECT, "abc123", max_bytes=2000) == b"x" * 2000


def test_blob_id_is_validated(client: GitLabClient) -> None:
    with pytest.raises(GitLabError, match="invalid blob id"):
        client.get_file(PROJECT, "../../secrets")


COMPARE = "/api/v4/projects/handbook-group%2Fhandbook/repository/compare"


def _diff(path: str, **flags: bool) -> dict[str, Any]:
    return {"old_path": path, "new_path": path, "diff": "", **flags}


@pytest.mark.parametrize(
    ("extra", "diffs", "complete"),
    [
        ({}, [_diff("a.md"), _diff("b.md", deleted_file=True)], True),
        ({"overflow": True}, [_diff("a.md")], False),  # GitLab says diffs were left out
        ({"compare_timeout": True}, [], False),
        ({}, [_diff(f"p{n}.md") for n in range(1000)], False),  # as many as the diff limit
    ],
)
def test_compare_says_when_its_diffs_cannot_be_trusted(
    api: respx.MockRouter,
    client: GitLabClient,
    extra: dict[str, Any],
    diffs: list[dict[str, Any]],
    complete: bool,
) -> None:
    body = {"commits": [{"id": "c" * 40}], "diffs": diffs, "compare_timeout": False, **extra}
    route = api.get(COMPARE).respond(200, json=body)
    found = client.compare(PROJECT, "a" * 40, "b" * 40, straight=True)
    assert found.complete is complete
    assert found.commits == ["c" * 40]
    assert len(found.changes) == len(diffs)
    assert route.calls.last.request.url.params["straight"] == "true"


# --- Git LFS --------------------------------------------------------------------------------
LFS_RAW = "/api/v4/projects/handbook-group%2Fhandbook/repository/files/policies%2Ftravel.pdf/raw"
POLICY = b"%PDF-1.4 the policy"


def policy_pointer() -> LfsPointer:
    pointer = lfs_pointer(
        b"version https://git-lfs.github.com/spec/v1\n"
        b"oid sha256:" + b"a" * 64 + b"\nsize " + str(len(POLICY)).encode() + b"\n"
    )
    assert pointer is not None
    return pointer


def test_lfs_pointers_are_told_from_other_files() -> None:
    assert policy_pointer() == LfsPointer("a" * 64, len(POLICY))
    assert lfs_pointer(b"# Travel\n\nversion https://git-lfs.github.com/spec/v1\n") is None
    assert (
        lfs_pointer(b"version https://git-lfs.github.com/spec/v1\noid sha256:zz\nsize 1\n") is None
    )
    assert (
        lfs_pointer(b"version https://git-lfs.github.com/spec/v1\n" + b"x" * 2000 + b"\n") is None
    )
    assert lfs_pointer(POLICY) is None


def test_an_lfs_download_sent_to_object_storage_goes_there_without_the_token(
    api: respx.MockRouter, client: GitLabClient
) -> None:
    storage = "https://storage.example.net/lfs/aa/aa/object?X-Amz-Signature=s"
    api.get(LFS_RAW, params={"ref": "main", "lfs": "true"}).respond(
        302, headers={"Location": storage}
    )
    with respx.mock(assert_all_called=True) as elsewhere:
        stored = elsewhere.get(storage).respond(200, content=POLICY)
        data = client.get_lfs_file(PROJECT, "policies/travel.pdf", "main", policy_pointer())
    assert data == POLICY
    assert "PRIVATE-TOKEN" not in stored.calls[0].request.headers


def test_an_lfs_download_redirected_on_gitlabs_own_host_keeps_the_token(
    api: respx.MockRouter, client: GitLabClient
) -> None:
    api.get(LFS_RAW).respond(302, headers={"Location": "/-/lfs/download/aa"})
    own = api.get("/-/lfs/download/aa").respond(200, content=POLICY)
    assert client.get_lfs_file(PROJECT, "policies/travel.pdf", "main", policy_pointer()) == POLICY
    assert own.calls[0].request.headers["PRIVATE-TOKEN"] == TOKEN


def test_object_storage_refusing_an_lfs_download_is_that_files_problem(
    api: respx.MockRouter, client: GitLabClient
) -> None:
    storage = "https://storage.example.net/lfs/aa?X-Amz-Signature=s"
    api.get(LFS_RAW).respond(302, headers={"Location": storage})
    with respx.mock() as elsewhere:
        elsewhere.get(storage).respond(403, text="AccessDenied")
        with pytest.raises(LfsObjectUnavailable, match="could not be downloaded") as refused:
            client.get_lfs_file(PROJECT, "policies/travel.pdf", "main", policy_pointer())
    assert "X-Amz-Signature" not in str(refused.value)


def test_an_outage_during_an_lfs_download_stays_an_outage(
    api: respx.MockRouter, client: GitLabClient
) -> None:
    """5xx after the retries is GitLab's error, retried as any file's, not the file's own."""
    api.get(LFS_RAW).respond(503)
    with pytest.raises(GitLabError) as raised:
        client.get_lfs_file(PROJECT, "policies/travel.pdf", "main", policy_pointer())
    assert not isinstance(raised.value, LfsObjectUnavailable)


def test_an_lfs_file_over_the_limit_is_refused_before_download(
    api: respx.MockRouter, client: GitLabClient
) -> None:
    route = api.get(LFS_RAW).respond(200, content=POLICY)
    with pytest.raises(FileTooLargeError):
        client.get_lfs_file(PROJECT, "policies/travel.pdf", "main", policy_pointer(), max_bytes=5)
    assert route.call_count == 0


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404, json={"message": "404 LFS object Not Found"}),
        httpx.Response(
            200,
            content=b"version https://git-lfs.github.com/spec/v1\noid sha256:"
            + b"a" * 64
            + b"\nsize 19\n",
        ),
    ],
)
def test_an_lfs_object_gitlab_lacks_is_one_clear_error(
    api: respx.MockRouter, client: GitLabClient, answer: httpx.Response
) -> None:
    api.get(LFS_RAW).mock(return_value=answer)
    with pytest.raises(LfsObjectUnavailable, match="Git LFS pointer"):
        client.get_lfs_file(PROJECT, "policies/travel.pdf", "main", policy_pointer())
