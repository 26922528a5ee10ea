"""The same MCP server over stdio, for local desktop clients (`thoth mcp --stdio`).

stdout carries the protocol, so logs go to stderr. The index is loaded before the first
message is read, and the pointer is polled in the background as in the HTTP server. When the
storage emulator does not listen, the server says so on stderr (the desktop client's MCP log)
and starts at once from its local copies, instead of waiting out the storage client's retries
before its first answer."""

from __future__ import annotations

import asyncio
import logging

import anyio

from thoth.bucket.reach import storage_unreachable
from thoth.config import Settings
from thoth.serve.loader import IndexCache
from thoth.serve.mcp.server import build_server
from thoth.serve.service import ThothService

log = logging.getLogger("thoth.serve.mcp")


async def serve_stdio(settings: Settings, cache: IndexCache | None = None) -> None:
    cache = cache or IndexCache(settings)
    service = ThothService(settings, cache)
    unreachable = storage_unreachable(settings)
    if unreachable is not None:
        log.warning("%s Serving local copies of the index, if any, until it answers.", unreachable)
        first_load = asyncio.to_thread(cache.load_local_copies, unreachable)
    else:
        first_load = cache.refresh_async()
    await asyncio.gather(first_load, asyncio.to_thread(service.load_encoder))
    server = build_server(service)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(cache.run)
        await server.run_stdio_async()
        tasks.cancel_scope.cancel()


def run_stdio(settings: Settings) -> None:
    asyncio.run(serve_stdio(settings))
