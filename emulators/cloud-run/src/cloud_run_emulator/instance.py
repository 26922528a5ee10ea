"""One container instance: its process, startup and liveness probes, scale to zero.

States: down -> starting -> ready -> (idle for idle_seconds, or liveness failed) -> down.
Requests that arrive while it is down start it (a cold start) and wait for the startup probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import time
from collections.abc import Callable
from enum import Enum
from functools import partial
from typing import Any

import aiohttp

from . import cpus, memory
from .config import ServiceConfig
from .cpu import CpuGate
from .environment import DECLARED, container_env, missing_secrets
from .log import RequestLog
from .probes import run_probe
from .terraform import Probe


class State(Enum):
    DOWN = "down"
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"  # SIGTERM sent: still an instance, taking no new requests


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


MEMORY_PERIOD_SECONDS = 0.5  # how often an instance's memory is measured


def end_container(pgid: int) -> None:
    """A container ends with its main process: whatever else runs in it is killed then, even
    if it ignored SIGTERM or is stopped by cpu_idle (SIGKILL reaches a stopped process)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _memory_in_use(pgid: int, folders: list[str], before: dict[str, int]) -> int:
    return memory.group_rss(pgid) + memory.grown_bytes(folders, before)


def startup_budget(probe: Probe) -> float:
    """The longest a startup probe sequence can take before it gives up."""
    per_try = probe.period_seconds + probe.timeout_seconds
    return probe.initial_delay_seconds + per_try * probe.failure_threshold


class Instance:
    def __init__(
        self,
        service: ServiceConfig,
        session: aiohttp.ClientSession,
        log: RequestLog,
        fixed_port: int = 0,
        number: int = 1,
    ) -> None:
        self.service = service
        self._fixed_port = fixed_port  # 0: a free port at each start
        self.number = number  # 1 for the service's first instance
        self.session = session
        self.log = log
        self.host = "127.0.0.1"
        self.port = 0
        self.state = State.DOWN
        self.cpu = CpuGate(service.terraform.cpu_idle)
        self.starts = 0
        self.startup_seconds: list[float] = []  # each start's time to a passed startup probe
        self.in_flight = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task[bool] | None = None
        self._idle: asyncio.Task[None] | None = None
        self._liveness: asyncio.Task[None] | None = None
        self._memory: asyncio.Task[None] | None = None
        self.memory_used = 0  # bytes, as last measured (memory.py)
        self.cpus: frozenset[int] = frozenset()  # what the container is bound to (cpus.py)
        self._boost: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.on_down: Callable[[], None] | None = None  # the pool's: a place came free

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # ---- requests -----------------------------------------------------------------------

    def begin_request(self) -> None:
        self.in_flight += 1
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self.cpu.acquire()

    def end_request(self) -> None:
        self.in_flight -= 1
        self.cpu.release()
        if self.in_flight == 0 and self.state is State.READY:
            self._arm_idle()

    async def ensure_ready(self) -> bool:
        """Start the instance if it is down; wait for its startup probe. False: it failed."""
        if self.state is State.READY and self._alive():
            return True
        if self._starting is None or self._starting.done():
            self._starting = asyncio.create_task(self._start())
        budget = startup_budget(self.service.terraform.startup_probe) + 5.0
        try:
            return await asyncio.wait_for(asyncio.shield(self._starting), budget)
        except TimeoutError:
            return False

    # ---- lifecycle ----------------------------------------------------------------------

    async def _start(self) -> bool:
        if self._stop_task is not None and not self._stop_task.done():
            await asyncio.shield(self._stop_task)  # never two containers of one instance
        missing = missing_secrets(os.environ, self.service.terraform.env, self.service.env)
        if missing and self.service.environment == DECLARED:
            self.log.event(
                "secret has no local value; Cloud Run does not start the instance",
                "ERROR",
                secrets=missing,
                **self._ids(),
            )
            return False
        self.state = State.STARTING
        began = time.monotonic()
        self.cpu.acquire()  # startup gets CPU
        try:
            await self._spawn()
            ready = await self._startup_probe()
        finally:
            self.cpu.release()
        if not ready:
            self.log.event("startup probe failed; container stopped", "ERROR", **self._ids())
            await self.stop()
            return False
        self.state = State.READY
        self.startup_seconds.append(time.monotonic() - began)
        if self.service.terraform.startup_cpu_boost:
            self._boost = asyncio.create_task(self._end_boost())
        self.log.event("container ready", **self._ids())
        if self.service.terraform.liveness_probe is not None:
            self._liveness = asyncio.create_task(self._liveness_loop())
        if self.in_flight == 0:
            self._arm_idle()
        return True

    async def _spawn(self) -> None:
        svc = self.service
        self.port = self._fixed_port or free_port(self.host)
        env = {
            **container_env(
                os.environ,
                svc.terraform.env,
                svc.env,
                mode=svc.environment,
                inherit=svc.inherit,
                overrides=svc.env_overrides,
            ),
            "PORT": str(self.port),
            "K_SERVICE": svc.name,
            "K_REVISION": svc.revision,
            "K_CONFIGURATION": svc.name,
        }
        if self.number > 1:
            for name in svc.private_dirs:
                if env.get(name):
                    # A sibling, not a child: code that lists its own directory sees no
                    # other instance's there. Emptied at each start, as a Cloud Run
                    # instance's /tmp starts empty (the first instance's is the configured
                    # directory, left as it is).
                    env[name] = f"{env[name].rstrip('/')}-instance-{self.number}"
                    shutil.rmtree(env[name], ignore_errors=True)
        folders = [env[name] for name in svc.private_dirs if env.get(name)]
        # A Cloud Run instance's /tmp starts empty; the first instance's directory here keeps
        # what earlier runs left (README), which this container did not write: not counted.
        before = await asyncio.to_thread(memory.file_sizes, folders)
        limit = svc.terraform.cpu
        self._take_cpus(cpus.boosted(limit) if svc.terraform.startup_cpu_boost else limit)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *svc.command,
                env=env,
                cwd=svc.workdir,
                start_new_session=True,
                preexec_fn=partial(cpus.bind_current, self.cpus) if self.cpus else None,
            )
        except OSError:
            self._release_cpus()  # no container: nothing holds them
            raise
        self.starts += 1
        self.cpu.attach(self._proc.pid)
        self._watcher = asyncio.create_task(self._watch(self._proc))
        if memory.measurable():
            self._memory = asyncio.create_task(self._memory_loop(self._proc, folders, before))
        self.log.event("container started", **self._ids())

    def _take_cpus(self, vcpus: float) -> None:
        """Bind the next container to CPUs for `vcpus` (none where nothing can be bound)."""
        self._release_cpus()
        ledger = cpus.ledger(self.service.port)
        self.cpus = ledger.take(vcpus) if ledger is not None else frozenset()

    def _release_cpus(self) -> None:
        ledger = cpus.ledger(self.service.port)
        if ledger is not None and self.cpus:
            ledger.give_back(self.cpus)
        self.cpus = frozenset()

    async def _end_boost(self) -> None:
        """Startup CPU boost lasts until 10 s after the startup probe passes."""
        await asyncio.sleep(cpus.BOOST_AFTER_STARTUP_SECONDS)
        proc, ledger = self._proc, cpus.ledger(self.service.port)
        if proc is None or proc.returncode is not None or ledger is None or not self.cpus:
            return
        wide = self.cpus
        narrowed = ledger.take(self.service.terraform.cpu, among=wide)
        try:
            await asyncio.to_thread(cpus.bind_group, proc.pid, narrowed)
        finally:
            if self.cpus == wide:
                ledger.give_back(wide)
                self.cpus = narrowed
            else:  # the container ended meanwhile and gave back what it held
                ledger.give_back(narrowed)
        self.log.event("startup CPU boost ended", cpus=len(self.cpus), **self._ids())

    async def _memory_loop(
        self, proc: asyncio.subprocess.Process, folders: list[str], before: dict[str, int]
    ) -> None:
        """Cloud Run stops an instance past its memory limit; its in-flight requests fail."""
        limit = self.service.terraform.memory_bytes
        while proc.returncode is None:
            used = await asyncio.to_thread(_memory_in_use, proc.pid, folders, before)
            if proc is not self._proc or proc.returncode is not None:
                return  # stopped or restarted meanwhile: not this container's figure any more
            self.memory_used = used
            if used > limit:
                self.log.event(
                    f"Memory limit of {limit // memory.MIB} MiB exceeded with "
                    f"{used // memory.MIB} MiB used. Consider increasing the memory limit, see "
                    "https://cloud.google.com/run/docs/configuring/memory-limits",
                    "ERROR",
                    **self._ids(),
                )
                end_container(proc.pid)
                return
            await asyncio.sleep(MEMORY_PERIOD_SECONDS)

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if proc is self._proc and not self._stopping:
            end_container(proc.pid)
            self.log.event("container exited", "ERROR", exit_code=code, **self._ids())
            self._proc = None
            self.cpu.attach(None)
            self.state = State.DOWN
            self.memory_used = 0
            self._release_cpus()
            self._cancel_tasks()
            if self.on_down is not None:
                self.on_down()

    async def _startup_probe(self) -> bool:
        probe = self.service.terraform.startup_probe
        await asyncio.sleep(probe.initial_delay_seconds)
        for attempt in range(probe.failure_threshold):
            began = time.monotonic()
            if not self._alive():
                return False
            if await self._probe_while_alive(probe):
                return True
            if attempt + 1 < probe.failure_threshold:
                await asyncio.sleep(max(0.0, probe.period_seconds - (time.monotonic() - began)))
        return False

    async def _probe_while_alive(self, probe: Probe) -> bool:
        """One probe attempt, given up as soon as the container exits (the default TCP probe
        would otherwise wait out its 240 s for a port nobody will open)."""
        attempt = asyncio.create_task(run_probe(probe, self.session, self.host, self.port))
        watcher = self._watcher
        waits: set[asyncio.Task[Any]] = {attempt} if watcher is None else {attempt, watcher}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if not attempt.done():
            attempt.cancel()
            return False
        return attempt.result()

    async def _liveness_loop(self) -> None:
        probe = self.service.terraform.liveness_probe
        assert probe is not None
        await asyncio.sleep(probe.initial_delay_seconds)
        failures = 0
        while self.state is State.READY:
            await asyncio.sleep(probe.period_seconds)
            self.cpu.acquire()  # probes get CPU
            try:
                passed = await run_probe(probe, self.session, self.host, self.port)
            finally:
                self.cpu.release()
            failures = 0 if passed else failures + 1
            if failures >= probe.failure_threshold:
                self.log.event("liveness probe failed; restarting", "WARNING", **self._ids())
                self._liveness = None  # this task ends here; stop() must not cancel it
                # The restart is the start requests wait for, from before the stop begins:
                # a request arriving meanwhile joins it instead of starting a second one.
                self._starting = asyncio.create_task(self._restart())
                return

    async def _restart(self) -> bool:
        await self.stop()
        return await self._start()

    def _arm_idle(self) -> None:
        if self._idle is None and self.service.terraform.min_instances == 0:
            self._idle = asyncio.create_task(self._idle_then_stop())

    async def _idle_then_stop(self) -> None:
        await asyncio.sleep(self.service.idle_seconds)
        if self.in_flight == 0 and self.state is State.READY:
            self._idle = None
            self.log.event("idle: scaling to zero", **self._ids())
            await self.stop()

    async def stop(self) -> None:
        """SIGTERM to the whole process group, then SIGKILL to what is left of it once the
        main process has exited or the grace period has passed. Calls while a stop runs
        wait for that one."""
        if self._stop_task is None or self._stop_task.done():
            self._stop_task = asyncio.create_task(self._stop())
        await asyncio.shield(self._stop_task)

    async def _stop(self) -> None:
        self._cancel_tasks()
        self.state = State.STOPPING
        proc, self._proc = self._proc, None
        try:
            if proc is None or proc.returncode is not None:
                if proc is not None:
                    end_container(proc.pid)
                return
            self._stopping = True
            self.cpu.thaw()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), self.service.shutdown_grace_seconds)
            end_container(proc.pid)
            await proc.wait()
        finally:
            self._stopping = False
            self.cpu.attach(None)
            self.state = State.DOWN
            self.memory_used = 0
            self._release_cpus()
            if self.on_down is not None:
                self.on_down()

    def _cancel_tasks(self) -> None:
        for task in (self._idle, self._liveness, self._boost):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._idle = self._liveness = self._boost = None

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def _ids(self) -> dict[str, Any]:
        return {
            "service": self.service.name,
            "instance": self.number,
            "pid": self.pid,
            "port": self.port,
        }
