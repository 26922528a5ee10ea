"""Wires each configured service: its listening port, proxy, instances and admin endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from .config import MAX_REQUEST_BYTES, ServiceConfig
from .front_end import FRONT_END_HOST, front_end_address
from .iam import Gate, KeySets
from .instance import Instance, State
from .log import RequestLog
from .memory import MIB
from .pool import Pool
from .proxy import Proxy

# The emulator's own endpoints, on each service's port. Nothing under this prefix reaches the
# container (Cloud Run reserves no such prefix; pick app paths outside it).
ADMIN_PREFIX = "/_emulator/"


@dataclass
class FrontDoor:
    service: ServiceConfig
    pool: Pool
    proxy: Proxy
    runner: web.AppRunner
    sessions: tuple[aiohttp.ClientSession, ...]

    def status(self) -> dict[str, object]:
        """The service as a whole (state: the most advanced of its instances; pid, port and
        cpu_frozen: the first running one's) and each instance."""
        tf = self.service.terraform
        instances = self.pool.instances
        running = [i for i in instances if i.state is not State.DOWN]
        lead = running[0] if running else (instances[0] if instances else None)
        return {
            "service": self.service.name,
            "state": _overall(instances).value,
            "pid": lead.pid if lead else None,
            "container_port": lead.port if lead else None,
            "starts": sum(i.starts for i in instances),
            "in_flight": sum(i.in_flight for i in instances),
            "queued": self.pool.waiting,
            "pending_seconds": round(self.pool.pending_seconds(), 3),  # a queued request's wait
            "cpu_frozen": lead.cpu.frozen if lead else False,
            "instances": [_instance_status(i) for i in instances],
            "concurrency": tf.concurrency,
            "max_instances": tf.max_instances,
            "timeout_seconds": tf.timeout_seconds,
            "cpu_idle": tf.cpu_idle,
            "memory_limit_mib": tf.memory_bytes // MIB,
            "cpu_limit": tf.cpu,
            "startup_cpu_boost": tf.startup_cpu_boost,
            "public": self.service.public,
        }


def _overall(instances: list[Instance]) -> State:
    states = {i.state for i in instances}
    ranked = (State.READY, State.STARTING, State.STOPPING)
    return next((s for s in ranked if s in states), State.DOWN)


def _instance_status(instance: Instance) -> dict[str, object]:
    return {
        "instance": instance.number,
        "state": instance.state.value,
        "pid": instance.pid,
        "container_port": instance.port,
        "starts": instance.starts,
        "in_flight": instance.in_flight,
        "cpu_frozen": instance.cpu.frozen,
        "memory_mib": instance.memory_used // MIB,  # as last measured against the limit
        "cpus": sorted(instance.cpus),  # the CPUs its processes are bound to now
    }


async def _admin(door: FrontDoor, request: web.Request) -> web.Response:
    if request.path == ADMIN_PREFIX + "health":
        return web.json_response({"status": "ok", **door.status()}, dumps=json.dumps)
    return web.json_response({"error": f"no admin route {request.path}"}, status=404)


def _session(local_addr: tuple[str, int] | None) -> aiohttp.ClientSession:
    # A new connection to the container per request: a pooled one can be one the container
    # is about to close (uvicorn drops idle keep-alives after 5 s, and a container frozen by
    # cpu_idle drops them the moment it is thawed), and the request on it would fail with a
    # 503 that Cloud Run never gives. On loopback a connect costs well under a millisecond.
    connector = aiohttp.TCPConnector(limit=0, force_close=True, local_addr=local_addr)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None),
        auto_decompress=False,
        # A proxy keeps no cookies: one client's Set-Cookie must never reach another's request.
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
    )


async def open_door(service: ServiceConfig, log: RequestLog) -> FrontDoor:
    # To the container from the front end's own address (front_end.py); the issuers' keys
    # from wherever the system routes them (127.0.0.2 reaches no address off this machine).
    to_container = _session(local_addr=front_end_address())
    elsewhere = _session(local_addr=None)
    pool = Pool(service, to_container, log)
    gate = Gate(service, KeySets(service.issuers, elsewhere))
    proxy = Proxy(service, pool, gate, to_container, log)
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    door = FrontDoor(service, pool, proxy, runner, (to_container, elsewhere))

    async def route(request: web.Request) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await _admin(door, request)
        return await proxy.handle(request)

    app.router.add_route("*", "/{tail:.*}", route)
    try:
        await runner.setup()
        await web.TCPSite(runner, service.host, service.port, reuse_address=True).start()
    except BaseException:
        for session in door.sessions:
            await session.close()
        raise
    log.event("front door listening", service=service.name, url=service.url)
    if front_end_address() is None:
        log.event(
            f"cannot bind {FRONT_END_HOST}: the container sees requests from 127.0.0.1, and a "
            "server trusting proxy headers from there only acts on them here, not on Cloud Run",
            "WARNING",
            service=service.name,
        )
    if service.start_on_boot:
        asyncio.create_task(pool.first.ensure_ready())  # noqa: RUF006 - runs to completion
    return door


async def close_door(door: FrontDoor) -> None:
    await door.runner.cleanup()
    await door.pool.stop()
    for session in door.sessions:
        await session.close()


async def serve(services: list[ServiceConfig], log: RequestLog) -> None:
    """Run every front door until SIGINT or SIGTERM; then stop their containers."""
    doors: list[FrontDoor] = []
    try:
        for service in services:
            doors.append(await open_door(service, log))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await asyncio.gather(*(close_door(d) for d in doors))
