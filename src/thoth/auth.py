"""Verify the OIDC token Cloud Tasks attaches to task requests (design.md §7).

Locally the Cloud Tasks emulator signs the same kind of token and serves a JWKS, so this code
runs unchanged: only `THOTH_OIDC_ISSUER` and `THOTH_OIDC_JWKS_URL` differ.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jwt

GOOGLE_ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})


class TokenError(Exception):
    """The request's token is missing or not acceptable. The message never contains the token."""


@lru_cache(maxsize=8)
def _jwks_client(jwks_url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=10)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise TokenError("missing Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("Authorization header is not a bearer token")
    return token.strip()


def verify_task_token(
    authorization: str | None,
    *,
    issuer: str,
    jwks_url: str,
    audience: str,
    service_account: str,
) -> dict[str, Any]:
    """The verified claims, or TokenError saying which check failed."""
    token = bearer_token(authorization)
    try:
        key = _jwks_client(jwks_url).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=audience,
            options={"require": ["iss", "aud", "exp", "iat", "email"]},
        )
    except jwt.PyJWKClientError as exc:
        raise TokenError(f"cannot get signing keys from {jwks_url}: {exc}") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    accepted = GOOGLE_ISSUERS if issuer in GOOGLE_ISSUERS else {issuer}
    if claims.get("iss") not in accepted:
        raise TokenError(f"unexpected issuer {claims.get('iss')!r}")
    if claims.get("email") != service_account or claims.get("email_verified") is not True:
        raise TokenError(f"token is for {claims.get('email')!r}, not the tasks service account")
    return claims
