"""Concurrency and queueing, startup hold, liveness restarts, scale to zero, CPU throttling,
CPU and memory limits."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from crun_support import TF_TEMPLATE, wait_for, without_probes

SLOW_LIVENESS = {"liveness_probe": {"period_seconds": 30}}


def _get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=30)


ONE_INSTANCE = {"max_instances": 1}


def test_concurrency_one_queues_extra_requests(front_door):
    door = front_door(invokers=("allUsers",), concurrency=1, overrides=ONE_INSTANCE)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(_get, [door.url + "/sleep/0.5"] * 3))
    assert [r.status_code for r in results] == [200, 200, 200]
    assert httpx.get(door.url + "/stats").json()["max_in_flight"] == 1


def test_busy_instances_scale_the_service_out_to_max_instances(front_door):
    """Cloud Run starts another instance when every running one is at its concurrency, up
    to max_instance_count (2 here); past that, requests queue."""
    door = front_door(
        invokers=("allUsers",),
        concurrency=1,
        env={"SCRATCH_DIR": "/scratch"},
        private_dirs=["SCRATCH_DIR"],
    )
    began = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(_get, [door.url + "/sleep/1.5"] * 3))
    elapsed = time.monotonic() - began
    assert [r.status_code for r in results] == [200, 200, 200]
    assert len({r.json()["pid"] for r in results}) == 2  # two containers, side by side
    # Each instance has a directory to itself, as each Cloud Run instance has its own /tmp.
    assert {r.json()["scratch"] for r in results} == {"/scratch", "/scratch-instance-2"}
    assert 3.0 <= elapsed < 4.4  # two at once, then the third: not three in a row (4.5 s)
    status = door.status()
    assert (status["starts"], len(status["instances"]), status["max_instances"]) == (2, 2, 2)


def test_full_queue_or_long_wait_is_429(front_door):
    door = front_door(
        invokers=("allUsers",),
        concurrency=1,
        queue_length=1,
        queue_seconds=0.5,
        overrides=ONE_INSTANCE,
    )
    pending = door.status()["pending_seconds"]  # 3.5 x the startup on record, or 0.5 s
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(_get, door.url + f"/sleep/{pending + 1.5}")
        time.sleep(0.2)
        waiting = pool.submit(_get, door.url + "/sleep/0.1")
        time.sleep(0.1)
        overflow = pool.submit(_get, door.url + "/sleep/0.1")
        assert overflow.result().status_code == 429  # queue of one is full
        assert waiting.result().status_code == 429  # its wait ran out before the slot freed
        assert first.result().status_code == 200
    assert "Rate exceeded" in overflow.result().text


def test_requests_wait_for_startup_probe(front_door):
    door = front_door(invokers=("allUsers",), env={"STARTUP_DELAY": "2"}, wait_ready=False)
    assert door.status()["state"] == "starting"
    began = time.monotonic()
    response = httpx.get(door.url + "/echo", timeout=30)
    assert response.status_code == 200
    assert time.monotonic() - began > 1.0
    assert door.status()["starts"] == 1


def test_without_a_startup_probe_the_default_waits_for_the_port(front_door):
    """Cloud Run's default startup probe is TCP with a 240 s budget: a container that takes
    a while to listen is waited for, not failed on the first refused connection."""
    door = _without_probes(front_door, {"STARTUP_DELAY": "2"})
    began = time.monotonic()
    assert httpx.get(door.url + "/echo", timeout=30).status_code == 200
    assert time.monotonic() - began > 1.5
    assert door.status()["starts"] == 1
    assert door.status()["max_instances"] == 2  # read from the Terraform, and shown


def test_the_default_probe_gives_up_when_the_container_exits(front_door):
    door = _without_probes(front_door, {"EXIT_AT_START": "1"})
    began = time.monotonic()
    assert httpx.get(door.url + "/echo", timeout=60).status_code == 503
    assert time.monotonic() - began < 15
    assert "container exited" in door.logs()


def _without_probes(front_door, env):
    """A service declaring no probes (Cloud Run's defaults), not waited for."""
    template = without_probes(TF_TEMPLATE)
    return front_door(invokers=("allUsers",), env=env, wait_ready=False, template=template)


def test_failing_liveness_probe_restarts_the_container(front_door, tmp_path):
    flag = tmp_path / "unwell"
    door = front_door(invokers=("allUsers",), env={"HEALTH_FLAG": str(flag)})
    first_pid = httpx.get(door.url + "/echo").json()["pid"]
    flag.touch()
    wait_for(lambda: door.status()["starts"] == 2, timeout=10)
    flag.unlink()
    wait_for(lambda: door.status()["state"] == "ready", timeout=10)
    assert httpx.get(door.url + "/echo").json()["pid"] != first_pid
    assert "liveness probe failed; restarting" in door.logs()


def test_idle_instance_scales_to_zero_and_cold_starts(front_door):
    door = front_door(invokers=("allUsers",), idle_seconds=1, overrides=SLOW_LIVENESS)
    first_pid = httpx.get(door.url + "/echo").json()["pid"]
    wait_for(lambda: door.status()["state"] == "down", timeout=10)
    assert door.status()["pid"] is None
    assert "idle: scaling to zero" in door.logs()
    response = httpx.get(door.url + "/echo", timeout=30)
    assert response.status_code == 200 and response.json()["pid"] != first_pid
    assert door.status()["starts"] == 2


def _gone(pid: int) -> bool:
    """No such process, or only its exit status is left (a zombie not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_a_crashed_container_ends_with_every_process_in_it(front_door):
    """The main process killed while cpu_idle has the container stopped: its helper process
    must not live on, stopped, as an orphan (CI runs left parse children so)."""
    door = front_door(invokers=("allUsers",), cpu_idle=True, overrides=SLOW_LIVENESS)
    child = httpx.get(door.url + "/spawn").json()["pid"]
    wait_for(lambda: door.status()["cpu_frozen"] is True)
    os.kill(door.status()["pid"], signal.SIGKILL)
    wait_for(lambda: "container exited" in door.logs(), timeout=10)
    wait_for(lambda: _gone(child), timeout=5)


def test_scaling_to_zero_ends_processes_that_ignore_sigterm(front_door):
    door = front_door(invokers=("allUsers",), idle_seconds=1, overrides=SLOW_LIVENESS)
    child = httpx.get(door.url + "/spawn?ignore_term=1").json()["pid"]
    wait_for(lambda: door.status()["state"] == "down", timeout=10)
    wait_for(lambda: _gone(child), timeout=5)


def _ticks_between_requests(door) -> int:
    before = httpx.get(door.url + "/stats").json()["ticks"]
    time.sleep(1.0)
    return int(httpx.get(door.url + "/stats").json()["ticks"]) - before


def test_cpu_idle_freezes_background_thread_between_requests(front_door):
    door = front_door(invokers=("allUsers",), cpu_idle=True, overrides=SLOW_LIVENESS)
    assert door.status()["cpu_frozen"] is True
    assert _ticks_between_requests(door) < 10  # ~100 if it ran


def test_without_cpu_idle_background_thread_runs(front_door):
    door = front_door(invokers=("allUsers",), cpu_idle=False, overrides=SLOW_LIVENESS)
    assert door.status()["cpu_frozen"] is False
    assert _ticks_between_requests(door) > 50


def test_each_request_reaches_the_container_on_a_new_connection(front_door):
    """A pooled connection to the container can be one it is closing: uvicorn drops an idle
    keep-alive after 5 s, and a container frozen by cpu_idle drops it the instant it is
    thawed for the next request. Under load the door handed requests to such connections and
    answered 503 (seen: every GitLab webhook after a 5 s pause, through `make up`), which
    Cloud Run never does; so the door opens a new connection for every request."""
    door = front_door(
        invokers=("allUsers",),
        cpu_idle=True,
        overrides=SLOW_LIVENESS,
        env={"UVICORN_PROXY_HEADERS": "false"},  # the client port is then the door's own
    )
    answers = [_get(door.url + "/echo") for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3
    ports = [a.json()["client_port"] for a in answers]
    assert len(set(ports)) == 3, ports


def test_an_instance_past_its_memory_limit_is_stopped(front_door, tmp_path):
    """Cloud Run stops an instance whose memory passes its limit, files in its in-memory /tmp
    included; the request in flight fails and the next one starts a new container."""
    door = front_door(
        invokers=("allUsers",),
        memory="256Mi",
        env={"SCRATCH_DIR": str(tmp_path / "scratch")},
        private_dirs=["SCRATCH_DIR"],
    )
    assert httpx.get(door.url + "/allocate/32", timeout=30).status_code == 200
    (instance,) = door.status()["instances"]
    assert 0 < instance["memory_mib"] < 256 and door.status()["memory_limit_mib"] == 256
    assert httpx.get(door.url + "/allocate/400", timeout=30).status_code == 503
    assert "Memory limit of 256 MiB exceeded" in door.log_path.read_text()
    assert httpx.get(door.url + "/echo", timeout=30).status_code == 200  # a new container
    assert httpx.get(door.url + "/write/300", timeout=60).status_code == 503
    assert door.log_path.read_text().count("Memory limit of 256 MiB exceeded") == 2
    assert door.status()["starts"] >= 2


def _container_cpus(pids: list[int]) -> set[frozenset[int]]:
    """The distinct CPU sets of every thread of `pids` (read from /proc, as the kernel binds
    them)."""
    found: set[frozenset[int]] = set()
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found.add(frozenset(os.sched_getaffinity(int(task.name))))
    return found


TWO_CPUS = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="a CPU limit is bound on Linux, and shows only on a machine of 2+ CPUs",
)


@TWO_CPUS
def test_an_instance_runs_on_as_many_cpus_as_its_limit(front_door):
    """Cloud Run gives an instance the vCPUs of `limits.cpu`: a 1-vCPU container's threads and
    the processes it starts all share one CPU, however many the machine has."""
    door = front_door(invokers=("allUsers",), cpu="1")
    child = httpx.get(door.url + "/spawn").json()["pid"]
    (bound,) = _container_cpus([door.status()["pid"], child])
    assert len(bound) == 1 and door.status()["instances"][0]["cpus"] == sorted(bound)
    assert door.status()["cpu_limit"] == 1.0
    wide = front_door(invokers=("allUsers",), cpu="2")
    assert {len(s) for s in _container_cpus([wide.status()["pid"]])} == {2}


@TWO_CPUS
def test_startup_cpu_boost_lasts_until_ten_seconds_after_startup(front_door):
    """With startup_cpu_boost a 1-vCPU instance starts on 2 vCPUs and keeps them for 10 s
    after its startup probe passes; then every thread, and every process it started, is down
    to one CPU."""
    door = front_door(invokers=("allUsers",), cpu="1", startup_cpu_boost=True)
    ready = time.monotonic()
    child = httpx.get(door.url + "/spawn").json()["pid"]
    pids = [door.status()["pid"], child]
    assert {len(s) for s in _container_cpus(pids)} == {2}
    wait_for(lambda: "startup CPU boost ended" in door.logs(), timeout=20)
    assert time.monotonic() - ready >= 9.0
    (bound,) = _container_cpus(pids)
    assert len(bound) == 1 and door.status()["instances"][0]["cpus"] == sorted(bound)


@TWO_CPUS
def test_a_liveness_restart_starts_boosted_again(front_door, tmp_path):
    """A container restarted by its liveness probe is a new start: boosted until 10 s after
    its startup probe passes, as the first was."""
    flag = tmp_path / "unwell"
    door = front_door(
        invokers=("allUsers",), cpu="1", startup_cpu_boost=True, env={"HEALTH_FLAG": str(flag)}
    )
    wait_for(lambda: "startup CPU boost ended" in door.logs(), timeout=20)
    assert len(door.status()["instances"][0]["cpus"]) == 1
    flag.touch()
    wait_for(lambda: door.status()["starts"] == 2, timeout=10)
    flag.unlink()
    wait_for(lambda: door.status()["state"] == "ready", timeout=10)
    assert {len(s) for s in _container_cpus([door.status()["pid"]])} == {2}
    wait_for(lambda: door.logs().count("startup CPU boost ended") == 2, timeout=20)
    assert {len(s) for s in _container_cpus([door.status()["pid"]])} == {1}
