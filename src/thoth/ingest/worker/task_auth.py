"""FastAPI dependency: task endpoints accept only requests carrying Cloud Tasks' OIDC token."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Header, HTTPException, Request

from thoth.auth import TokenError, verify_task_token
from thoth.config import Settings

log = logging.getLogger(__name__)


def require_task_token(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    settings: Settings = request.app.state.settings
    if not settings.auth_oidc:
        return
    try:
        verify_task_token(
            authorization,
            issuer=settings.oidc_issuer,
            jwks_url=settings.oidc_jwks_url,
            audience=settings.task_audience,
            service_account=settings.tasks_service_account,
        )
    except TokenError as exc:
        log.warning("task request refused: %s", exc)
        raise HTTPException(401, f"task token refused: {exc}") from exc
