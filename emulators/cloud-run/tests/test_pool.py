"""The pool of a service's instances while one of them stops: a scale-in or a liveness
restart that takes its time must never leave two containers of one instance, or one that
outlives the emulator."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp

from cloud_run_emulator.config import ServiceConfig
from cloud_run_emulator.instance import Instance, State
from cloud_run_emulator.log import RequestLog
from cloud_run_emulator.pool import STARTUP_FACTOR, Pool, Rejected
from cloud_run_emulator.terraform import Probe, TerraformService

APP = Path(__file__).resolve().parent / "slow_stop_app.py"
FAST_STARTUP = Probe("http", "/health", 0, 0.1, 1, 50)


def service(max_instances: int, **extra: object) -> ServiceConfig:
    terraform = TerraformService(
        resource="svc",
        concurrency=1,
        cpu_idle=False,
        max_instances=max_instances,
        startup_probe=FAST_STARTUP,
        liveness_probe=extra.pop("liveness", None),  # type: ignore[arg-type]
    )
    return ServiceConfig(
        name="svc",
        port=0,
        command=(sys.executable, str(APP)),
        url="http://svc",
        terraform=terraform,
        members=frozenset(),
        issuers=(),
        shutdown_grace_seconds=5,
        **extra,  # type: ignore[arg-type]
    )


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not predicate():  # noqa: ASYNC110 - polls state the emulator owns
            await asyncio.sleep(0.02)


def test_a_request_during_a_scale_in_does_not_restart_the_stopping_instance() -> None:
    async def run() -> None:
        config = service(2, idle_seconds=0.5, env={"SLOW_TERM": "1.5"})
        async with aiohttp.ClientSession() as session:
            pool = Pool(config, session, RequestLog("text", io.StringIO()))
            first = pool.first
            assert await first.ensure_ready()
            old = first.pid
            await until(lambda: first.state is State.STOPPING)  # idle: scaling in, slowly
            async with pool.claim() as instance:
                assert instance is not first  # not the instance whose container is stopping
                assert await instance.ensure_ready()
            assert alive(old)  # still in its graceful shutdown
            await until(lambda: first.state is State.DOWN)
            assert not alive(old) and first.pid is None
            await pool.stop()

    asyncio.run(run())


def test_a_request_during_a_liveness_restart_joins_it(tmp_path: Path) -> None:
    flag = tmp_path / "unwell"
    liveness = Probe("http", "/health", 0, 0.2, 1, 2)

    async def run() -> list[int | None]:
        config = service(1, idle_seconds=100, env={"SLOW_TERM": "1", "HEALTH_FLAG": str(flag)},
                         liveness=liveness)  # fmt: skip
        async with aiohttp.ClientSession() as session:
            pool = Pool(config, session, RequestLog("text", io.StringIO()))
            instance: Instance = pool.first
            assert await instance.ensure_ready()
            pids = [instance.pid]
            flag.touch()
            await until(lambda: instance.state is not State.READY)
            flag.unlink()
            async with pool.claim() as claimed:  # arrives while the old container stops
                assert await claimed.ensure_ready()
                pids.append(claimed.pid)
            await asyncio.sleep(1.5)
            pids.append(instance.pid)
            assert instance.starts == 2  # one restart, not a second container beside it
            await pool.stop()
            return pids

    first, during, after = asyncio.run(run())
    assert first != during == after
    assert not alive(first) and not alive(during)


async def rejected_after(pool: Pool) -> float:
    """Seconds a request waited for a slot before its 429."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        async with pool.claim():
            raise AssertionError("no slot was free")
    except Rejected:
        return loop.time() - began


def test_a_request_pends_for_three_and_a_half_startups_or_ten_seconds() -> None:
    """Cloud Run holds a request with no free instance for 3.5 x the service's average
    startup time, or 10 s (here `queue_seconds`) when that is longer."""

    async def run() -> tuple[float, float, float]:
        config = service(1, idle_seconds=100, queue_seconds=0.3, env={"STARTUP_DELAY": "0.5"})
        async with aiohttp.ClientSession() as session:
            pool = Pool(config, session, RequestLog("text", io.StringIO()))
            assert pool.pending_seconds() == 0.3  # no start on record yet
            first = pool.first
            assert await first.ensure_ready()
            (startup,) = first.startup_seconds
            async with pool.claim():  # the only slot, held
                waited = await rejected_after(pool)
            await pool.stop()
            return startup, pool.pending_seconds(), waited

    startup, pending, waited = asyncio.run(run())
    assert pending == STARTUP_FACTOR * startup and pending > 0.3
    assert pending - 0.1 < waited < pending + 1.0
