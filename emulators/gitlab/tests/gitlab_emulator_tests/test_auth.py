"""REST API authentication answers, as GitLab gives them."""

from __future__ import annotations

import httpx

from .support import PROJECT, PUBLIC, TOKEN, Emulator, encoded


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
