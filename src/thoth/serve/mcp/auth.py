"""Optional bearer tokens for /mcp (design.md §7: Cloud Run IAM in front, this inside).

Behind Cloud Run IAM a client sends two tokens: its Google ID token in
`X-Serverless-Authorization`, which IAM checks and forwards, and the app's bearer token in
`Authorization`, which IAM then leaves alone. When a request has no
`X-Serverless-Authorization`, IAM took the ID token from `Authorization` (it arrives here with
its signature removed), so that request carries no app token at all.

Pure ASGI, so streamed responses pass through untouched. Tokens are compared in constant
time, every configured token is tried, and no token ever appears in a response or a log."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from thoth.auth import SERVERLESS_HEADER, signature_removed


def bearer_allowed(header: str, tokens: Sequence[bytes]) -> bool:
    """Whether an `Authorization` header carries one of `tokens` (each tried, in constant
    time)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    given = token.strip().encode()
    matched = False
    for expected in tokens:
        matched |= hmac.compare_digest(given, expected)
    return matched


class BearerTokenMiddleware:
    def __init__(self, app: ASGIApp, tokens: Sequence[str], protected: str = "/mcp") -> None:
        self.app = app
        self.tokens = [t.encode() for t in tokens if t]
        self.protected = protected

    def _protects(self, path: str) -> bool:
        return path == self.protected or path.startswith(self.protected + "/")

    def _allowed(self, header: str) -> bool:
        return bearer_allowed(header, self.tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.tokens or not self._protects(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        header = headers.get("authorization", "")
        if self._allowed(header):
            await self.app(scope, receive, send)
            return
        challenge = 'Bearer realm="thoth"'
        if header:
            challenge += ', error="invalid_token"'
        message = "bearer token required" if not header else "invalid bearer token"
        if _iam_took_authorization(headers, header):
            message = (
                "Authorization holds the Cloud Run ID token: send the ID token in "
                "X-Serverless-Authorization and the app token in Authorization"
            )
        response = JSONResponse(
            {"error": "unauthorized", "message": message},
            status_code=401,
            headers={"WWW-Authenticate": challenge},
        )
        await response(scope, receive, send)


def _iam_took_authorization(headers: Headers, authorization: str) -> bool:
    _, _, token = authorization.partition(" ")
    return SERVERLESS_HEADER not in headers and signature_removed(token.strip())
