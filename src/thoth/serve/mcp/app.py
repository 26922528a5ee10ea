"""The MCP server as a FastAPI app: `/mcp` (stateless Streamable HTTP, JSON responses),
`/health` (liveness), `/startup` (the startup probe: the model is loaded and the first look at
the store has ended) and `/ready` (an index and the model are loaded).

Run it with `thoth mcp`, or `uvicorn --factory thoth.serve.mcp.app:create_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings

from thoth.config import Settings, get_settings
from thoth.serve.loader import IndexCache
from thoth.serve.mcp.auth import BearerTokenMiddleware, bearer_allowed
from thoth.serve.mcp.request_log import RequestLogMiddleware, silence_sdk_noise
from thoth.serve.mcp.server import build_server
from thoth.serve.search import QueryEncoder
from thoth.serve.service import ThothService

MCP_PATH = "/mcp"

# Each answered 405 with `Allow: POST`.
NOT_POST = ["GET", "HEAD", "DELETE", "PUT", "PATCH", "OPTIONS", "TRACE"]


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """The SDK's Host/Origin check (DNS-rebinding protection). Without the service's real
    hostname in `allowed_hosts` it answers 421 behind Cloud Run; `*` switches it off."""
    hosts = list(settings.allowed_hosts)
    if "*" in hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    origins = [f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def create_app(
    settings: Settings | None = None,
    index_cache: IndexCache | None = None,
    encoder: QueryEncoder | None = None,
    *,
    poll: bool = True,
) -> FastAPI:
    """The app. `index_cache` and `encoder` default to ones built from `settings`; with
    `poll=False` the lifespan does not start the background poller (tests refresh by hand)."""
    settings = settings or get_settings()
    silence_sdk_noise()
    cache = index_cache or IndexCache(settings)
    service = ThothService(settings, cache, encoder)
    server = build_server(service)
    mcp_app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(settings),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.start_loading_encoder()
        if poll:
            cache.start()
        try:
            async with server.session_manager.run():
                yield
        finally:
            await cache.stop()

    app = FastAPI(
        title="Thoth MCP server",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/startup")
    async def startup() -> JSONResponse:
        # Cloud Run's startup probe: with cpu_idle the instance gets CPU only during startup
        # and requests, so loading must finish before the first request, not beside it.
        waiting = []
        if service.encoder is None:
            waiting.append(service.encoder_error or "embedding model still loading")
        if not cache.first_refresh_done:
            waiting.append("first index refresh still running")
        body = {"status": "waiting" if waiting else "started", "reasons": waiting}
        return JSONResponse(body, status_code=503 if waiting else 200)

    tokens = [t.encode() for t in settings.mcp_tokens if t]

    @app.get("/ready")
    async def ready(request: Request) -> JSONResponse:
        status = cache.status()
        reasons = [f"{key}: {value}" for key, value in sorted(status.errors.items())]
        if not status.ready:
            reasons.insert(0, "no index loaded yet")
        if service.encoder is None:
            reasons.append(service.encoder_error or "embedding model still loading")
        ok = status.ready and service.encoder is not None
        code = 200 if ok else 503
        if tokens and not bearer_allowed(request.headers.get("authorization", ""), tokens):
            # Probes need only the status; what is indexed is for token holders.
            return JSONResponse({"status": "ready" if ok else "not ready"}, status_code=code)
        body = {
            "status": "ready" if ok else "not ready",
            "reasons": reasons,
            "sources": [s.model_dump(mode="json") for s in status.sources],
            "last_refresh": status.last_refresh.isoformat() if status.last_refresh else None,
        }
        return JSONResponse(body, status_code=code)

    security = TransportSecurityMiddleware(transport_security(settings))

    @app.api_route(MCP_PATH, methods=NOT_POST, include_in_schema=False)
    async def no_event_stream(request: Request) -> Response:
        # Stateless: there is nothing to push on a standalone GET stream, and an idle SSE
        # stream would pin a Cloud Run instance for the whole request timeout. The spec lets
        # a server answer 405 here, and DELETE too (no session to end); every other method
        # but POST gets the same answer, so `Allow` never contradicts itself (there is no
        # CORS: browsers are not this server's clients). POST reaches the MCP app below.
        # Host and Origin are checked first, as for POST: the spec wants every connection's
        # Origin validated.
        refused = await security.validate_request(request, is_post=False)
        if refused is not None:
            return refused
        return JSONResponse(
            {"error": "method not allowed", "message": "POST JSON-RPC messages to this URL"},
            status_code=405,
            headers={"Allow": "POST"},
        )

    app.mount("/", mcp_app)  # its one route is /mcp; mounted last so /health, /ready win
    app.add_middleware(BearerTokenMiddleware, tokens=settings.mcp_tokens, protected=MCP_PATH)
    app.add_middleware(RequestLogMiddleware, path=MCP_PATH)  # outermost: 401s are logged too
    return app
