"""Wires the gRPC server, the HTTP port and the queues into one asyncio event loop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import grpc

from .faults import Faults
from .http_api import HttpApi, start_http
from .log import DispatchLog
from .oidc import TokenIssuer
from .queue import DispatchContext
from .service import CloudTasksService


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8123
    http_port: int = 8124
    queues: list[str] = field(default_factory=list)
    issuer: str = ""
    tombstone_seconds: float = 86400.0
    task_retention_seconds: float = 31 * 24 * 3600.0
    log_format: str = "json"
    faults: Faults = field(default_factory=Faults)
    signing_key: Path | None = None

    def effective_issuer(self) -> str:
        if self.issuer:
            return self.issuer.rstrip("/")
        wildcard = ("0.0.0.0", "::", "")  # noqa: S104 - only compared, never bound here
        host = "127.0.0.1" if self.host in wildcard else self.host
        return f"http://{host}:{self.http_port}"


class Emulator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log = DispatchLog(settings.log_format)
        self.issuer = TokenIssuer(settings.effective_issuer(), settings.signing_key)
        self._grpc: grpc.aio.Server | None = None
        self._http: asyncio.Server | None = None
        self._client: aiohttp.ClientSession | None = None
        self.service: CloudTasksService | None = None
        self.grpc_port = 0
        self.http_port = 0

    async def start(self) -> None:
        # aiohttp, not httpx: measured here at ~0.14 ms CPU per request against httpx's ~2.4 ms
        # at 50 concurrent requests (httpx's pool scan grows with the number of connections).
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=30)
        self._client = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=False,
        )
        ctx = DispatchContext(
            client=self._client,
            issuer=self.issuer,
            faults=self.settings.faults,
            log=self.log,
            tombstone_seconds=self.settings.tombstone_seconds,
            task_retention_seconds=self.settings.task_retention_seconds,
        )
        self.service = CloudTasksService(ctx)
        for name in self.settings.queues:
            self.service.add_queue(name)
        self._grpc = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", 8 * 1024 * 1024),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ]
        )
        self._grpc.add_generic_rpc_handlers((self.service.generic_handler(),))
        self.grpc_port = self._grpc.add_insecure_port(f"{self.settings.host}:{self.settings.port}")
        if self.grpc_port == 0:
            raise OSError(f"cannot bind gRPC port {self.settings.host}:{self.settings.port}")
        await self._grpc.start()
        service = self.service
        api = HttpApi(self.issuer, self.settings.faults, lambda: len(service.queues))
        self._http = await start_http(api, self.settings.host, self.settings.http_port)
        self.http_port = int(self._http.sockets[0].getsockname()[1])
        self.log.event(
            "cloud tasks emulator started",
            grpc=f"{self.settings.host}:{self.grpc_port}",
            http=f"{self.settings.host}:{self.http_port}",
            issuer=self.issuer.issuer,
            queues=len(self.service.queues),
        )

    async def stop(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop(grace=1.0)
        if self._http is not None:
            self._http.close()
        if self.service is not None:
            for queue in list(self.service.queues.values()):
                await queue.close()
        if self._client is not None:
            await self._client.close()


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""
    emulator = Emulator(settings)
    await emulator.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emulator.stop()
