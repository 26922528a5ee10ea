"""Optional bearer tokens for /mcp (design.md §7: Cloud Run IAM in front, this inside).

Pure ASGI, so streamed responses pass through untouched. Tokens are compared in constant
time, every configured token is tried, and no token ever appears in a response or a log."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class BearerTokenMiddleware:
    def __init__(self, app: ASGIApp, tokens: Sequence[str], protected: str = "/mcp") -> None:
        self.app = app
        self.tokens = [t.encode() for t in tokens if t]
        self.protected = protected

    def _protects(self, path: str) -> bool:
        return path == self.protected or path.startswith(self.protected + "/")

    def _allowed(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        given = token.strip().encode()
        matched = False
        for expected in self.tokens:
            matched |= hmac.compare_digest(given, expected)
        return matched

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.tokens or not self._protects(scope["path"]):
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("authorization", "")
        if self._allowed(header):
            await self.app(scope, receive, send)
            return
        challenge = 'Bearer realm="thoth"'
        if header:
            challenge += ', error="invalid_token"'
        message = "bearer token required" if not header else "invalid bearer token"
        response = JSONResponse(
            {"error": "unauthorized", "message": message},
            status_code=401,
            headers={"WWW-Authenticate": challenge},
        )
        await response(scope, receive, send)
