"""Who is calling: tokens from the REST API's headers and from git's HTTP basic auth.

As on GitLab: the API reads `PRIVATE-TOKEN`, `Authorization: Bearer` or the
`private_token` / `access_token` query parameters; git sends the token as the basic-auth
password with any username (`oauth2`, the user's name, ...). Every configured token belongs
to the emulator's one user. Tokens are compared in constant time and never logged.
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


@dataclass(frozen=True)
class Caller:
    credential: Credential
    token: str = ""  # the presented token, used only as the rate-limit key

    @property
    def authenticated(self) -> bool:
        return self.credential is Credential.VALID


class TokenCheck:
    def __init__(self, tokens: tuple[str, ...]) -> None:
        self._tokens = tuple(t.encode() for t in tokens if t)

    def _check(self, token: str) -> Caller:
        candidate = token.encode()
        valid = any(hmac.compare_digest(candidate, known) for known in self._tokens)
        return Caller(Credential.VALID if valid else Credential.INVALID, token)

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
