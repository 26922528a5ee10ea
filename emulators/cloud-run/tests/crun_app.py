"""The container behind the front door in tests: a little Starlette app run by uvicorn.

A background thread counts every 10 ms (CPU throttling shows as missing counts). Env knobs:
STARTUP_DELAY (seconds before the app answers), EXIT_AT_START (exit instead), HEALTH_FLAG (a
file whose presence fails /health).
/spawn starts a child process in the container, for what happens to it when the container ends.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

CHILDREN: list[subprocess.Popen[bytes]] = []
STATE = {"ticks": 0, "in_flight": 0, "max_in_flight": 0, "disconnects": 0, "requests": 0}


def _count() -> None:
    while True:
        time.sleep(0.01)
        STATE["ticks"] += 1


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await asyncio.sleep(float(os.environ.get("STARTUP_DELAY", "0")))
    if os.environ.get("EXIT_AT_START"):
        raise SystemExit(3)
    threading.Thread(target=_count, daemon=True).start()
    yield


def health(request: Request) -> Response:
    flag = os.environ.get("HEALTH_FLAG")
    if flag and Path(flag).exists():
        return Response("unwell", status_code=500)
    return Response("ok")


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    STATE["requests"] += 1
    env = {k: os.environ.get(k) for k in ("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION")}
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "headers": dict(request.headers),
            "raw_headers": [(k.decode(), v.decode()) for k, v in request.headers.raw],
            "body_len": len(body),
            "env": env,
            "pid": os.getpid(),
            "client_port": request.client.port if request.client else None,
            "client_host": request.client.host if request.client else None,
            "scheme": request.url.scheme,
        }
    )


async def environment(request: Request) -> JSONResponse:
    return JSONResponse(dict(os.environ))


async def sleep(request: Request) -> JSONResponse:
    STATE["in_flight"] += 1
    STATE["max_in_flight"] = max(STATE["max_in_flight"], STATE["in_flight"])
    try:
        seconds = float(request.path_params["seconds"])
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                STATE["disconnects"] += 1
                return JSONResponse({"disconnected": True})
            await asyncio.sleep(0.05)
        scratch = os.environ.get("SCRATCH_DIR")
        return JSONResponse({"slept": seconds, "pid": os.getpid(), "scratch": scratch})
    finally:
        STATE["in_flight"] -= 1


async def set_cookie(request: Request) -> Response:
    response = Response("set")
    response.set_cookie("session", "client-a-secret")
    return response


async def allocate(request: Request) -> JSONResponse:
    """Hold `mib` MiB of resident memory for 3 s."""
    held = b"\x01" * (int(request.path_params["mib"]) * 1024 * 1024)
    await asyncio.sleep(3)
    return JSONResponse({"held": len(held)})


def write(request: Request) -> JSONResponse:
    """Write `mib` MiB into $SCRATCH_DIR (an instance's /tmp), then wait 3 s."""
    folder = Path(os.environ["SCRATCH_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    chunk = b"\x01" * (1024 * 1024)  # a MiB at a time: the files count, not the process
    with (folder / "blob").open("wb") as out:
        for _ in range(int(request.path_params["mib"])):
            out.write(chunk)
    time.sleep(3)
    return JSONResponse({"written": True})


async def sized(request: Request) -> Response:
    """`n` bytes, with Content-Length, or chunked (`?chunked=1`)."""
    size = int(request.path_params["n"])
    if request.query_params.get("chunked"):
        step = 1024 * 1024

        async def parts() -> AsyncIterator[bytes]:
            for start in range(0, size, step):
                yield b"x" * min(step, size - start)

        return StreamingResponse(parts(), media_type="application/octet-stream")
    return Response(b"x" * size, media_type="application/octet-stream")


async def stats(request: Request) -> JSONResponse:
    return JSONResponse({**STATE, "pid": os.getpid()})


def spawn(request: Request) -> JSONResponse:
    """Start a helper process inside the container (one that ignores SIGTERM if asked), as
    a worker starts parse children; answer its pid."""
    ignore = (
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        if "ignore_term" in request.query_params
        else ""
    )
    code = f"import signal, time; {ignore}time.sleep(600)"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL)
    CHILDREN.append(child)
    return JSONResponse({"pid": child.pid})


async def stream(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"data: first\n\n"
        await asyncio.sleep(float(request.query_params.get("gap", "1")))
        yield b"data: last\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/echo", echo, methods=["GET", "POST", "PUT"]),
        Route("/sleep/{seconds}", sleep),
        Route("/stats", stats),
        Route("/bytes/{n:int}", sized),
        Route("/allocate/{mib:int}", allocate),
        Route("/write/{mib:int}", write),
        Route("/env", environment),
        Route("/set-cookie", set_cookie),
        Route("/stream", stream),
        Route("/spawn", spawn),
    ],
    lifespan=lifespan,
)
