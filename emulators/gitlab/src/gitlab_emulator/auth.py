"""Who is calling: tokens from the REST API's headers and from git's HTTP basic auth.

As on GitLab: the API reads `PRIVATE-TOKEN`, `Authorization: Bearer` or the
`private_token` / `access_token` query parameters; git sends the token as the basic-auth
password with any username (`oauth2`, the user's name, ...). Every configured token belongs
to the emulator's one user. Tokens are compared in constant time and never logged.

A token is configured as `TOKEN` (scope `api`: everything) or `TOKEN:SCOPE[,SCOPE...]`,
e.g. `glpat-x:read_repository`; the REST API checks scopes as GitLab does (`scope_for`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from enum import Enum

from starlette.datastructures import Headers, QueryParams


class Credential(Enum):
    NONE = "none"  # nothing was presented: an anonymous caller
    VALID = "valid"
    INVALID = "invalid"


FULL_SCOPE = "api"


@dataclass(frozen=True)
class Caller:
    credential: Credential
    token: str = ""  # the presented token, used only as the rate-limit key
    scopes: frozenset[str] = frozenset()

    @property
    def authenticated(self) -> bool:
        return self.credential is Credential.VALID


def parse_token(spec: str) -> tuple[str, frozenset[str]]:
    """`TOKEN` or `TOKEN:scope,scope` -> (token, scopes)."""
    token, _, scopes = spec.partition(":")
    return token, frozenset(s.strip() for s in scopes.split(",") if s.strip()) or frozenset(
        {FULL_SCOPE}
    )


class TokenCheck:
    def __init__(self, tokens: tuple[str, ...]) -> None:
        self._tokens = tuple(
            (token.encode(), scopes) for token, scopes in map(parse_token, tokens) if token
        )

    def _check(self, token: str) -> Caller:
        candidate = token.encode()
        scopes: frozenset[str] | None = None
        for known, known_scopes in self._tokens:
            if hmac.compare_digest(candidate, known):
                scopes = known_scopes
        if scopes is None:
            return Caller(Credential.INVALID, token)
        return Caller(Credential.VALID, token, scopes)

    def api_caller(self, headers: Headers, query: QueryParams) -> Caller:
        token = headers.get("private-token", "")
        authorization = headers.get("authorization", "")
        if not token and authorization.lower().startswith("bearer "):
            token = authorization[len("bearer ") :].strip()
        token = token or query.get("private_token", "") or query.get("access_token", "")
        return self._check(token) if token else Caller(Credential.NONE)

    def git_caller(self, headers: Headers) -> Caller:
        authorization = headers.get("authorization", "")
        if not authorization.lower().startswith("basic "):
            return Caller(Credential.NONE)
        try:
            decoded = base64.b64decode(authorization[len("basic ") :], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return Caller(Credential.INVALID)
        _, _, password = decoded.partition(":")
        return self._check(password) if password else Caller(Credential.INVALID)
