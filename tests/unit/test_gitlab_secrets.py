"""Where the GitLab token comes from: the setting, else Secret Manager, else nothing."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import respx
from google.api_core import exceptions as api_exceptions
from pydantic import SecretStr

from thoth.config import Settings
from thoth.ingest.sources.sync import gitlab_client
from thoth.secrets import secret_value

SECRET = "glpat-from-secret-manager"


class FakeSecretManager:
    """Stands in for SecretManagerServiceClient.access_secret_version."""

    def __init__(self, value: str | None = None, error: Exception | None = None) -> None:
        self.value, self.error = value, error
        self.names: list[str] = []

    def access_secret_version(self, *, name: str, timeout: float) -> Any:
        self.names.append(name)
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return SimpleNamespace(payload=SimpleNamespace(data=self.value.encode()))


def test_setting_wins_without_asking_secret_manager() -> None:
    manager = FakeSecretManager(SECRET)
    assert secret_value(SecretStr("from-env"), "gitlab-token", "p", client=manager) == "from-env"
    assert manager.names == []


@pytest.mark.parametrize("setting", [None, SecretStr("")])
def test_secret_manager_latest_version(setting: SecretStr | None) -> None:
    manager = FakeSecretManager(SECRET)
    assert secret_value(setting, "gitlab-token", "my-proj", client=manager) == SECRET
    assert manager.names == ["projects/my-proj/secrets/gitlab-token/versions/latest"]


@pytest.mark.parametrize(
    "error",
    [
        api_exceptions.NotFound("Secret [gitlab-token] not found"),
        api_exceptions.PermissionDenied("Permission denied on secret"),
    ],
)
def test_unreadable_secret_is_none_and_logged(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="thoth.secrets")
    manager = FakeSecretManager(error=error)
    assert secret_value(None, "gitlab-token", "p", client=manager) is None
    assert "projects/p/secrets/gitlab-token/versions/latest" in caplog.text
    assert type(error).__name__ in caplog.text


def test_no_credentials_outside_gcp(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The real Secret Manager client, on a machine with no Google credentials at all."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    caplog.set_level(logging.WARNING, logger="thoth.secrets")

    assert secret_value(None, "gitlab-token", "thoth-local") is None
    assert "DefaultCredentialsError" in caplog.text
    assert "continuing without it" in caplog.text


def test_gitlab_client_uses_the_token_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(gitlab_url="https://gl.example.com", gitlab_token=SecretStr("tok-123"))
    with respx.mock(base_url="https://gl.example.com") as api:
        route = api.get("/api/v4/projects/7/repository/tree").respond(json=[])
        with gitlab_client(settings) as client:
            client.list_tree(7, "main")
    assert route.calls.last.request.headers["PRIVATE-TOKEN"] == "tok-123"
    assert "tok-123" not in caplog.text
