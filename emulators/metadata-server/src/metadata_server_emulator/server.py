"""One aiohttp listener per identity: the default port, plus one per extra identity."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from aiohttp import web

from .routes import Identity, Routes
from .signing import Signer


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8125
    identity: Identity = field(
        default_factory=lambda: Identity(
            "default@local-project.iam.gserviceaccount.com", "local-project", "123456789012",
            "us-central1",
        )
    )  # fmt: skip
    issuer: str = "http://127.0.0.1:8124"
    signing_key: Path = Path(".thoth/dev/signing-key.pem")
    # Extra listeners: port -> service account email, e.g. one per calling service.
    extra: dict[int, str] = field(default_factory=dict)


async def _listen(routes: Routes, host: str, port: int) -> web.AppRunner:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", routes.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    return runner


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""
    signer = Signer(settings.issuer, settings.signing_key)
    listeners = {settings.port: settings.identity}
    for port, email in settings.extra.items():
        listeners[port] = replace(settings.identity, email=email)
    runners = []
    try:
        for port, identity in listeners.items():
            runners.append(await _listen(Routes(identity, signer), settings.host, port))
            print(
                f"metadata server: http://{settings.host}:{port} as {identity.email}",
                file=sys.stderr,
                flush=True,
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        for runner in runners:
            await runner.cleanup()
