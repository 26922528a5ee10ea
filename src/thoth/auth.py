"""Who is calling: Google ID tokens as the services receive them (design.md §7).

Behind Cloud Run IAM (`THOTH_AUTH=iam`, the default) Cloud Run has already verified the
caller's ID token and checked that the caller may invoke the service; it hands the token on
with its signature replaced by `SIGNATURE_REMOVED_BY_GOOGLE`, in `X-Serverless-Authorization`
when the caller sent it there, else in `Authorization`. The app then reads the claims and
decides what this caller may do; it cannot and does not verify a signature that is gone, and
it refuses a token that still has one, since such a token did not come through IAM. The local
front-door emulator (emulators/cloud-run) does the same, so this code runs unchanged.

Without a front door (`THOTH_AUTH=jwks`) the app verifies RS256 signatures itself against the
issuer's JWKS. No message here ever contains a token.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any, Literal

import jwt

GOOGLE_ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})
# gcloud's own OAuth client: `gcloud auth print-identity-token` gives a user account a token
# for it (it takes `--audiences` from service accounts only), and Cloud Run lets it in.
GCLOUD_CLIENT_ID = "32555940559.apps.googleusercontent.com"
SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"
SERVERLESS_HEADER = "x-serverless-authorization"
CLOCK_SKEW_SECONDS = 30
AuthMode = Literal["iam", "jwks", "none"]


class TokenError(Exception):
    """The request's token is missing or not acceptable (401). Never contains the token."""


class CallerForbidden(Exception):
    """A valid identity that may not do this (403)."""


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


def identity_header(headers: Mapping[str, str]) -> str | None:
    """The header that carries the caller's ID token, as Cloud Run IAM reads it."""
    return headers.get(SERVERLESS_HEADER) or headers.get("authorization")


def signature_removed(token: str) -> bool:
    return token.count(".") == 2 and token.rsplit(".", 1)[1] == SIGNATURE_REMOVED


def forwarded_claims(token: str) -> dict[str, Any]:
    """The claims of a token Cloud Run forwarded (signature removed). Raises TokenError for
    a token that still carries a signature or is not a JWT."""
    if not signature_removed(token):
        raise TokenError("token did not come through Cloud Run IAM (its signature is present)")
    payload = token.split(".")[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise TokenError("forwarded token is not a JWT") from exc
    if not isinstance(claims, dict):
        raise TokenError("forwarded token is not a JWT")
    return claims


def verified_claims(token: str, *, jwks_url: str, audience: Collection[str]) -> dict[str, Any]:
    """The claims of a token whose RS256 signature verifies against `jwks_url`."""
    try:
        key = _jwks_client(jwks_url).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=list(audience),
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat"]},
        )
    except jwt.PyJWKClientError as exc:
        raise TokenError("cannot get the issuer's signing keys") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token ({type(exc).__name__})") from exc
    return claims


def check_claims(
    claims: Mapping[str, Any], *, issuer: str, audience: Collection[str], now: float | None = None
) -> None:
    """Issuer, audience and expiry of an already-decoded token."""
    accepted = GOOGLE_ISSUERS if issuer in GOOGLE_ISSUERS else {issuer}
    if claims.get("iss") not in accepted:
        raise TokenError("token from an unexpected issuer")
    aud = claims.get("aud")
    audiences = set(aud) if isinstance(aud, list) else {aud}
    if not audiences & set(audience):
        raise TokenError("token for another audience")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp + CLOCK_SKEW_SECONDS < (now or time.time()):
        raise TokenError("token expired")


def caller_claims(
    headers: Mapping[str, str],
    *,
    mode: AuthMode,
    issuer: str,
    jwks_url: str,
    audience: Collection[str],
) -> dict[str, Any]:
    """The verified claims of the request's caller under `mode` (not called for `none`)."""
    token = bearer_token(identity_header(headers))
    audience = with_trailing_slashes(audience)
    if mode == "iam":
        claims = forwarded_claims(token)
    else:
        claims = verified_claims(token, jwks_url=jwks_url, audience=audience)
    check_claims(claims, issuer=issuer, audience=audience)
    return claims


def with_trailing_slashes(audience: Collection[str]) -> set[str]:
    """The audiences with each URL also as written with or without a trailing "/": Cloud Run
    IAM takes both for a service's URL (Google's own service-to-service sample asks for
    "https://SERVICE.run.app/"), so a token it let in is not refused here for the slash."""
    accepted = set(audience)
    for value in audience:
        if value.startswith(("https://", "http://")):
            accepted |= {value.rstrip("/"), value.rstrip("/") + "/"}
    return accepted


def require_email(claims: Mapping[str, Any], allowed: Collection[str], what: str) -> str:
    """The caller's verified email when it is one of `allowed`, else CallerForbidden."""
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        raise TokenError("token carries no verified email")
    if email not in allowed:
        raise CallerForbidden(f"{email} may not call {what}")
    return email
