"""The emulator's small HTTP port: /health, OIDC discovery, JWKS and runtime faults.

A deliberately tiny HTTP/1.1 server on asyncio streams (one request per connection), so the
emulator needs no web framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from .faults import Faults
from .oidc import DISCOVERY_PATH, JWKS_PATH, TokenIssuer

MAX_HEADER_LINES = 100
MAX_BODY = 64 * 1024
Response = tuple[int, dict[str, Any]]


class HttpApi:
    def __init__(self, issuer: TokenIssuer, faults: Faults, queue_count: Callable[[], int]) -> None:
        self.issuer = issuer
        self.faults = faults
        self.queue_count = queue_count

    def route(self, method: str, path: str, body: bytes) -> Response:
        path = path.split("?", 1)[0]
        if method == "GET" and path == "/health":
            return 200, {"status": "ok", "queues": self.queue_count()}
        if method == "GET" and path == DISCOVERY_PATH:
            return 200, self.issuer.discovery()
        if method == "GET" and path in (JWKS_PATH, "/jwks"):
            return 200, self.issuer.jwks()
        if path == "/faults":
            if method == "GET":
                return 200, self.faults.as_dict()
            if method == "POST":
                return self._set_faults(body)
            return 405, {"error": "method not allowed"}
        return 404, {"error": f"no route for {method} {path}"}

    def _set_faults(self, body: bytes) -> Response:
        try:
            changes = json.loads(body or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("body must be a JSON object")
            self.faults.update(changes)
        except (ValueError, TypeError) as exc:
            return 400, {"error": str(exc)}
        return 200, self.faults.as_dict()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, payload = await self._read_and_route(reader)
        except (asyncio.IncompleteReadError, ValueError, asyncio.LimitOverrunError):
            status, payload = 400, {"error": "bad request"}
        except ConnectionError:
            writer.close()
            return
        data = json.dumps(payload).encode("utf-8")
        reason = HTTPStatus(status).phrase
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode("ascii") + data)
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def _read_and_route(self, reader: asyncio.StreamReader) -> Response:
        request_line = (await reader.readline()).decode("latin-1").strip()
        parts = request_line.split(" ")
        if len(parts) != 3:
            raise ValueError("bad request line")
        method, path, _ = parts
        length = 0
        for _ in range(MAX_HEADER_LINES):
            line = (await reader.readline()).decode("latin-1").strip()
            if not line:
                break
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-length":
                length = int(value.strip())
        else:
            raise ValueError("too many headers")
        if length < 0 or length > MAX_BODY:
            raise ValueError("bad content length")
        body = await reader.readexactly(length) if length else b""
        return self.route(method, path, body)


async def start_http(api: HttpApi, host: str, port: int) -> asyncio.Server:
    return await asyncio.start_server(api.handle, host, port)
