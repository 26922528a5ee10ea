"""FastAPI dependencies: who may call the worker (design.md §7).

`/tasks/*` accept only the tasks service account (the identity Cloud Tasks puts in its OIDC
token); `/v1/*` accept the emails in THOTH_WORKER_CALLERS. How the identity is read depends on
THOTH_AUTH: the claims Cloud Run IAM forwarded (`iam`), a signature checked here (`jwks`), or
not at all (`none`, for tests of other things). Refusals name the failed check, never a token.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from fastapi import HTTPException, Request

from thoth.auth import (
    GCLOUD_CLIENT_ID,
    CallerForbidden,
    TokenError,
    caller_claims,
    require_email,
)
from thoth.config import Settings

log = logging.getLogger(__name__)


def require_task_caller(request: Request) -> None:
    settings: Settings = request.app.state.settings
    audiences = [settings.worker_audience]  # what Cloud Tasks is asked to mint (tasks.py)
    _require(request, [settings.tasks_service_account], audiences, "the task endpoints")


def require_api_caller(request: Request) -> None:
    settings: Settings = request.app.state.settings
    _require(request, settings.worker_callers, api_audiences(settings), "the worker API")


def api_audiences(settings: Settings) -> list[str]:
    """People call the API with `gcloud auth print-identity-token`, whose audience for a
    user account is gcloud's client (docs/deployment.md); service accounts can name the
    worker. gcloud's client only behind Cloud Run IAM, which admits such tokens: checking
    signatures here (`jwks`), the audience is all that ties a token to this service."""
    if settings.auth == "iam":
        return [settings.worker_audience, GCLOUD_CLIENT_ID]
    return [settings.worker_audience]


def _require(
    request: Request, allowed: Collection[str], audiences: Collection[str], what: str
) -> None:
    settings: Settings = request.app.state.settings
    if settings.auth == "none":
        return
    try:
        claims = caller_claims(
            request.headers,
            mode=settings.auth,
            issuer=settings.oidc_issuer,
            jwks_url=settings.oidc_jwks_url,
            audience=audiences,
        )
        require_email(claims, allowed, what)
    except TokenError as exc:
        log.warning("%s %s refused: %s", request.method, request.url.path, exc)
        raise HTTPException(401, "caller not authenticated", _challenge()) from exc
    except CallerForbidden as exc:
        log.warning("%s %s refused: %s", request.method, request.url.path, exc)
        raise HTTPException(403, str(exc)) from exc


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="thoth-worker"'}
