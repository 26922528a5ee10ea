"""Startup and liveness probes: an HTTP GET (2xx/3xx passes) or a TCP connect."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from .front_end import front_end_address
from .terraform import Probe


async def run_probe(probe: Probe, session: aiohttp.ClientSession, host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(probe.timeout_seconds):
            if probe.kind == "tcp":
                return await (_tcp_when_listening if probe.wait_for_port else _tcp)(host, port)
            return await _http(session, f"http://{host}:{port}{probe.path}")
    except (TimeoutError, OSError, aiohttp.ClientError):
        return False


async def _tcp(host: str, port: int) -> bool:
    _, writer = await asyncio.open_connection(host, port, local_addr=front_end_address())
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _tcp_when_listening(host: str, port: int) -> bool:
    """Dial until the container listens; the caller's timeout ends the wait."""
    while True:
        try:
            return await _tcp(host, port)
        except OSError:
            await asyncio.sleep(0.1)


async def _http(session: aiohttp.ClientSession, url: str) -> bool:
    # A fresh connection per probe, as the kubelet-style prober does; never a pooled one.
    async with session.get(url, allow_redirects=False, headers={"Connection": "close"}) as resp:
        await resp.read()
        return 200 <= resp.status < 400
