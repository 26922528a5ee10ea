"""Credentials never leak through settings or GitLab errors (issue 7)."""

from __future__ import annotations

import httpx
import pytest
import respx
from pydantic import ValidationError

from thoth.config import Settings
from thoth.ingest.sources.gitlab import GitLabClient, GitLabError

SECRET = "glpat-SECRET"


def test_credentials_in_the_gitlab_url_are_refused_and_never_echoed() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(gitlab_url=f"https://oauth2:{SECRET}@gitlab.example.com")
    assert SECRET not in str(caught.value)
    assert "THOTH_GITLAB_TOKEN" in str(caught.value)


@respx.mock
def test_gitlab_errors_never_show_credentials_of_the_url() -> None:
    respx.get(url__regex=r".*/repository/tree.*").mock(return_value=httpx.Response(418))
    client = GitLabClient(f"https://oauth2:{SECRET}@gitlab.example.com", None, max_retries=0)
    with pytest.raises(GitLabError) as caught:
        client.list_tree("g/p", "main")
    assert SECRET not in str(caught.value) and "gitlab.example.com" in str(caught.value)
