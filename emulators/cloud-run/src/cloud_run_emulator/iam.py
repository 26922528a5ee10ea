"""Cloud Run's invoker check: find the ID token, verify it, match its email to an invoker.

Where the token is read: `X-Serverless-Authorization` when present (then `Authorization` is
the app's own and passes untouched), else `Authorization`. Answers, as Cloud Run gives them:
no token -> 403, a token that does not verify -> 401 with `WWW-Authenticate`, a valid token
whose email is no invoker -> 403. A verified token reaches the container in the header it came
in, with its signature replaced by `SIGNATURE_REMOVED_BY_GOOGLE`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt

from .config import ANY_AUTHENTICATED, Issuer, ServiceConfig

SERVERLESS_HEADER = "X-Serverless-Authorization"
AUTHORIZATION_HEADER = "Authorization"
REMOVED_SIGNATURE = "SIGNATURE_REMOVED_BY_GOOGLE"
INVALID_TOKEN_CHALLENGE = (
    'Bearer error="invalid_token" '  # noqa: S105 - a challenge, not a secret
    'error_description="The access token could not be verified"'
)
JWKS_REFRESH_SECONDS = 5.0


@dataclass(frozen=True)
class Denied:
    status: int  # 401 or 403
    reason: str  # for the log line; never contains the token


@dataclass(frozen=True)
class Allowed:
    email: str | None
    header: str | None  # the header the token came in, None for a public service
    forwarded_value: str | None  # "Bearer header.payload.SIGNATURE_REMOVED_BY_GOOGLE"


def strip_signature(token: str) -> str:
    header, payload, _ = token.split(".", 2)
    return f"{header}.{payload}.{REMOVED_SIGNATURE}"


class KeySets:
    """The JWKS of each trusted issuer, fetched on first use and again on an unknown `kid`."""

    def __init__(self, issuers: tuple[Issuer, ...], session: aiohttp.ClientSession) -> None:
        self._issuers = {i.issuer: i for i in issuers}
        self._session = session
        self._keys: dict[str, dict[str, jwt.PyJWK]] = {}
        self._fetched_at: dict[str, float] = {}
        self._lock = asyncio.Lock()

    def trusts(self, issuer: str) -> bool:
        return issuer in self._issuers

    async def key(self, issuer: str, kid: str) -> jwt.PyJWK | None:
        keys = self._keys.get(issuer, {})
        if kid in keys:
            return keys[kid]
        async with self._lock:
            if kid not in self._keys.get(issuer, {}) and self._stale(issuer):
                await self._fetch(issuer)
        return self._keys.get(issuer, {}).get(kid)

    def _stale(self, issuer: str) -> bool:
        last = self._fetched_at.get(issuer)
        return last is None or time.monotonic() - last > JWKS_REFRESH_SECONDS

    async def _fetch(self, issuer: str) -> None:
        self._fetched_at[issuer] = time.monotonic()
        uri = self._issuers[issuer].jwks_uri
        try:
            async with self._session.get(uri, timeout=aiohttp.ClientTimeout(total=5)) as resp:
                resp.raise_for_status()
                data = await resp.json(content_type=None)
            keyset = jwt.PyJWKSet.from_dict(data)
        except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWTError):
            return
        self._keys[issuer] = {k.key_id: k for k in keyset.keys if k.key_id}


class Gate:
    """Decides whether a request may reach the container, and what token it carries there."""

    def __init__(self, service: ServiceConfig, keys: KeySets) -> None:
        self._service = service
        self._keys = keys
        self._audiences = service.accepted_audiences()
        self._emails = {m.split(":", 1)[1].lower() for m in service.members if ":" in m}
        self._any_authenticated = ANY_AUTHENTICATED in service.members

    async def check(self, headers: Any) -> Allowed | Denied:
        if self._service.public:
            return Allowed(None, None, None)
        name = SERVERLESS_HEADER if SERVERLESS_HEADER in headers else AUTHORIZATION_HEADER
        value = headers.get(name)
        if not value:
            return Denied(403, "no identity token")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or token.count(".") != 2:
            return Denied(401, f"{name} is not a bearer JWT")
        claims = await self._verify(token.strip())
        if isinstance(claims, Denied):
            return claims
        email = str(claims.get("email", "")).lower()
        if not (self._any_authenticated or email in self._emails):
            return Denied(403, f"{email or 'a token without email'} is not an invoker")
        return Allowed(email, name, f"Bearer {strip_signature(token.strip())}")

    async def _verify(self, token: str) -> dict[str, Any] | Denied:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return Denied(401, "malformed token")
        issuer = str(unverified.get("iss", ""))
        if header.get("alg") != "RS256" or not self._keys.trusts(issuer):
            return Denied(401, "untrusted issuer or algorithm")
        key = await self._keys.key(issuer, str(header.get("kid", "")))
        if key is None:
            return Denied(401, "unknown signing key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=list(self._audiences),
                issuer=issuer,
                options={"require": ["exp", "iat", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            return Denied(401, type(exc).__name__)
        return claims
