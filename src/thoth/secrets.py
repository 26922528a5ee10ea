"""Secrets: a setting when given, else Google Secret Manager, else nothing.

Outside Google Cloud (no credentials, no metadata server) the lookup logs one line and
returns None instead of failing. Secret values are never logged.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from pydantic import SecretStr

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT_SECONDS = 10.0
_EXPECTED_FAILURES = (
    auth_exceptions.GoogleAuthError,  # no credentials, metadata server unreachable, refresh
    api_exceptions.GoogleAPIError,  # NotFound, PermissionDenied, unavailable, retry gave up
)


class SecretReader(Protocol):
    """The part of SecretManagerServiceClient this module uses."""

    def access_secret_version(self, *, name: str, timeout: float) -> Any: ...


def secret_value(
    settings_value: SecretStr | None,
    secret_id: str,
    project: str,
    *,
    client: SecretReader | None = None,
) -> str | None:
    """`settings_value` when set; else the latest version of Secret Manager secret
    `secret_id` in `project`; else None (logged, never raised) when it cannot be read."""
    if settings_value is not None and settings_value.get_secret_value():
        return settings_value.get_secret_value()
    name = f"projects/{project}/secrets/{secret_id}/versions/latest"
    try:
        reader = client if client is not None else _default_client()
        response = reader.access_secret_version(name=name, timeout=LOOKUP_TIMEOUT_SECONDS)
    except _EXPECTED_FAILURES as exc:
        log.warning(
            "secret %s not read from Secret Manager (%s: %s); continuing without it",
            name,
            type(exc).__name__,
            _first_line(exc),
        )
        return None
    return bytes(response.payload.data).decode("utf-8")


def _default_client() -> SecretReader:
    from google.cloud import secretmanager

    client: SecretReader = secretmanager.SecretManagerServiceClient()
    return client


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "no detail"
