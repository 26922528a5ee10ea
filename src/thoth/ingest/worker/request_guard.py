"""What a browser must not be able to do to a worker on a developer's machine: a page from
another site cannot reach it through DNS rebinding (the Host header must be one the worker
answers to) nor with a cross-site "simple" POST (writes under /v1 other than the bodiless
DELETE must be JSON, and an `Origin`, when a browser sends one, must be an allowed host).

Hosts are matched without their port; `*.example.com` matches any subdomain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from thoth.config import Settings

UNGUARDED_PATHS = ("/health",)  # platform probes may use any Host
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
Guard = Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]


def allowed_hosts(settings: Settings) -> list[str]:
    """The configured hosts, and the host Cloud Tasks calls (THOTH_WORKER_URL's)."""
    own = urlsplit(settings.worker_url).hostname
    hosts = [h.lower() for h in settings.worker_allowed_hosts]
    return [*hosts, own.lower()] if own else hosts


def host_allowed(host: str, patterns: list[str]) -> bool:
    name = _hostname(host)
    if not name:
        return False
    for pattern in patterns:
        if pattern == "*" or pattern == name:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


def request_guard(settings: Settings) -> Guard:
    patterns = allowed_hosts(settings)

    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        refusal = _refusal(request, patterns)
        if refusal is not None:
            status, detail = refusal
            return JSONResponse({"detail": detail}, status_code=status)
        return await call_next(request)

    return guard


def _refusal(request: Request, patterns: list[str]) -> tuple[int, str] | None:
    if request.url.path in UNGUARDED_PATHS:
        return None
    if not host_allowed(request.headers.get("host", ""), patterns):
        return 400, "this worker does not answer to that Host (THOTH_WORKER_ALLOWED_HOSTS)"
    if request.method not in WRITE_METHODS or not request.url.path.startswith("/v1/"):
        return None
    origin = request.headers.get("origin")
    if origin is not None and not host_allowed(urlsplit(origin).netloc, patterns):
        return 403, f"cross-site request from {origin[:100]!r} refused"
    if request.method == "DELETE":
        # No body to type; and a page can send a DELETE cross-site only after a CORS
        # preflight, which this worker never answers with consent.
        return None
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return 415, "send the request body as JSON (Content-Type: application/json)"
    return None


def _hostname(host: str) -> str:
    """`host[:port]` or `[v6]:port` without the port, lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
