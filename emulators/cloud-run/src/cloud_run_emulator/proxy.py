"""The request path through the front door: size limit, IAM, an instance, container, timeout.

Responses with a known small length are read whole and sent in one write; everything else
(SSE, chunked, large bodies) is streamed chunk by chunk as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from .config import MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, ServiceConfig
from .headers import add_forwarded, add_trace, end_to_end
from .iam import Allowed, Gate
from .instance import Instance
from .log import RequestLog
from .pages import error_page
from .pool import Pool, Rejected

WHOLE_BODY_LIMIT = 1024 * 1024
# Recomputed by the HTTP layers on each side.
_DROP_REQUEST = frozenset({"content-length"})
_DROP_RESPONSE = frozenset({"content-length"})


class Proxy:
    def __init__(
        self,
        service: ServiceConfig,
        pool: Pool,
        gate: Gate,
        session: aiohttp.ClientSession,
        log: RequestLog,
    ) -> None:
        self.service = service
        self.pool = pool
        self.gate = gate
        self.session = session
        self.log = log

    async def handle(self, request: web.Request) -> web.StreamResponse:
        began = time.perf_counter()
        headers = end_to_end(request.headers, _DROP_REQUEST)
        trace = add_trace(headers)
        status = 500
        try:
            response = await self._handle(request, headers)
            # A stream cut short logs why (504 timeout, 503 container gone), not its 200.
            status = int(request.get("cut", response.status))
            return response
        finally:
            self.log.request(
                service=self.service.name,
                method=request.method,
                path=request.path,
                status=status,
                latency_s=time.perf_counter() - began,
                trace=trace,
            )

    async def _handle(self, request: web.Request, headers: CIMultiDict[str]) -> web.StreamResponse:
        # Cloud Run's request timeout runs from the request's arrival: time queued and a
        # cold start count against it, not only the container's own work.
        deadline = asyncio.get_running_loop().time() + self.service.terraform.timeout_seconds
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            return error_page(413, request.path)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return error_page(413, request.path)
        verdict = await self.gate.check(request.headers)
        if not isinstance(verdict, Allowed):
            return error_page(verdict.status, request.path)
        if verdict.header is not None and verdict.forwarded_value is not None:
            headers[verdict.header] = verdict.forwarded_value
        add_forwarded(headers, request.remote or "", self.service.forwarded_proto or request.scheme)
        try:
            async with asyncio.timeout_at(deadline), self.pool.claim() as instance:
                if not await instance.ensure_ready():
                    return error_page(503, request.path)
                return await self._forward(instance, request, headers, body)
        except Rejected:
            return error_page(429, request.path)
        except TimeoutError:
            return self._cut(request, 504)

    async def _forward(
        self, instance: Instance, request: web.Request, headers: CIMultiDict[str], body: bytes
    ) -> web.StreamResponse:
        url = f"http://{instance.host}:{instance.port}{request.raw_path}"
        try:
            async with self.session.request(
                request.method, url, headers=headers, data=body or None, allow_redirects=False
            ) as upstream:
                return await self._relay(request, upstream)
        except (aiohttp.ClientError, ConnectionError):
            return self._cut(request, 503)

    @staticmethod
    def _cut(request: web.Request, status: int) -> web.StreamResponse:
        started: web.StreamResponse | None = request.get("streaming")
        if started is None:
            return error_page(status, request.path)
        # The status line is gone already: cut the connection, as Cloud Run does.
        request["cut"] = status
        if request.transport is not None:
            request.transport.close()
        return started

    async def _relay(
        self, request: web.Request, upstream: aiohttp.ClientResponse
    ) -> web.StreamResponse:
        headers = end_to_end(upstream.headers, _DROP_RESPONSE)
        length = upstream.content_length
        streaming = "text/event-stream" in upstream.headers.get("Content-Type", "")
        if length is not None and length > MAX_RESPONSE_BYTES and _has_body(request, upstream):
            # Cloud Run's HTTP/1 limit for a response of declared length (a chunked one has
            # none): Google's front end answers 500 with an empty body.
            self.log.event("Response size was too large", "ERROR", path=request.path, bytes=length)
            request["cut"] = 500
            return web.Response(status=500, body=b"")
        if length is not None and length <= WHOLE_BODY_LIMIT and not streaming:
            body = await upstream.read()
            return web.Response(
                status=upstream.status, reason=upstream.reason, headers=headers, body=body
            )
        out = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
        if length is not None:
            out.content_length = length
        await out.prepare(request)
        request["streaming"] = out
        with contextlib.suppress(ConnectionResetError):
            async for chunk in upstream.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
        return out


def _has_body(request: web.Request, upstream: aiohttp.ClientResponse) -> bool:
    """Whether the response's Content-Length counts bytes that follow (not for HEAD, 1xx,
    204 or 304, where it describes a body never sent)."""
    return request.method != "HEAD" and upstream.status >= 200 and upstream.status not in (204, 304)
