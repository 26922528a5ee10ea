"""REST API authentication answers, as GitLab gives them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .support import (
    HANDBOOK,
    PROJECT,
    PUBLIC,
    TOKEN,
    Emulator,
    encoded,
    start_emulator,
    thoth_gitlab,
    write_tree,
)

READ_REPOSITORY = "glpat-files-only"
READ_API = "glpat-reader"


def test_private_token_header_bearer_and_query_parameter(emulator: Emulator) -> None:
    url = f"{emulator.url}/api/v4/projects/{encoded(PROJECT)}"
    assert httpx.get(url, headers={"PRIVATE-TOKEN": TOKEN}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert httpx.get(url, params={"private_token": TOKEN}).status_code == 200


def test_bad_token_is_401_even_on_a_public_project(emulator: Emulator) -> None:
    for project in (PROJECT, PUBLIC):
        response = emulator.api("wrong").get(f"/projects/{encoded(project)}")
        assert response.status_code == 401
        assert response.json() == {"message": "401 Unauthorized"}


def test_anonymous_sees_public_projects_only(emulator: Emulator) -> None:
    anonymous = emulator.api(None)
    assert anonymous.get(f"/projects/{encoded(PUBLIC)}").status_code == 200
    hidden = anonymous.get(f"/projects/{encoded(PROJECT)}/repository/tree")
    assert hidden.status_code == 404
    assert hidden.json() == {"message": "404 Project Not Found"}


def test_unknown_project_is_404(emulator: Emulator) -> None:
    for ref in ("999", encoded("group/nope")):
        response = emulator.api().get(f"/projects/{ref}")
        assert response.status_code == 404
        assert response.json() == {"message": "404 Project Not Found"}


def test_hooks_need_a_token(emulator: Emulator) -> None:
    response = emulator.api(None).get(f"/projects/{encoded(PUBLIC)}/hooks")
    assert response.status_code == 401
    assert response.json() == {"message": "401 Unauthorized"}


@pytest.fixture
def scoped(tmp_path: Path) -> Iterator[Emulator]:
    seed = write_tree(tmp_path / "seed", HANDBOOK)
    proc = start_emulator(
        tmp_path,
        "--project", PROJECT,
        "--seed-dir", str(seed),
        "--token", f"{READ_REPOSITORY}:read_repository",
        "--token", f"{READ_API}:read_api",
    )  # fmt: skip
    yield proc
    proc.stop()


def test_token_scopes_as_gitlab_checks_them(scoped: Emulator) -> None:
    project = f"/projects/{encoded(PROJECT)}"
    files_only, reader = scoped.api(READ_REPOSITORY), scoped.api(READ_API)
    assert files_only.get(f"{project}/repository/files/README.md/raw?ref=main").status_code == 200
    for path in (project, f"{project}/repository/tree", f"{project}/repository/commits/main"):
        refused = files_only.get(path)
        assert refused.status_code == 403
        assert refused.json()["error"] == "insufficient_scope"
        assert refused.json()["scope"] == "api read_api"
        assert reader.get(path).status_code == 200
    hook = reader.post(f"{project}/hooks", json={"url": "http://127.0.0.1:9/hook"})
    assert (hook.status_code, hook.json()["scope"]) == (403, "api")
    assert scoped.api(TOKEN).get(f"{project}/hooks").status_code == 200  # a bare token: api


def test_thoth_client_names_the_scope_it_needs(scoped: Emulator) -> None:
    gitlab = thoth_gitlab()
    with (
        gitlab.GitLabClient(scoped.url, READ_REPOSITORY) as client,
        pytest.raises(gitlab.GitLabAuthError, match="read_api scope"),
    ):
        client.list_tree(PROJECT, "main")
    with gitlab.GitLabClient(scoped.url, READ_API) as client:
        assert client.list_tree(PROJECT, "main").entries
