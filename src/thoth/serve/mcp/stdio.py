"""The same MCP server over stdio, for local desktop clients (`thoth mcp --stdio`).

stdout carries the protocol, so logs go to stderr. The index is loaded before the first
message is read, and the pointer is polled in the background as in the HTTP server."""

from __future__ import annotations

import asyncio

import anyio

from thoth.config import Settings
from thoth.serve.loader import IndexCache
from thoth.serve.mcp.server import build_server
from thoth.serve.service import ThothService


async def serve_stdio(settings: Settings, cache: IndexCache | None = None) -> None:
    cache = cache or IndexCache(settings)
    service = ThothService(settings, cache)
    await asyncio.gather(
        cache.refresh_async(),
        asyncio.to_thread(service.load_encoder),
    )
    server = build_server(service)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(cache.run)
        await server.run_stdio_async()
        tasks.cancel_scope.cancel()


def run_stdio(settings: Settings) -> None:
    asyncio.run(serve_stdio(settings))
