"""Fault injection: duplicate deliveries, failures after a 2xx, random delay; health."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from google.api_core import exceptions
from tasks_support import Target, start_emulator, wait_for


def test_duplicate_delivery(client, make_queue, faults, target: Target) -> None:
    assert faults(duplicate=3)["duplicate"] == 3
    queue = make_queue()
    task = client.create_task(parent=queue.name, task={"http_request": {"url": target.url("/dup")}})
    got = target.wait_count("/dup", 3)
    time.sleep(0.2)
    assert len(target.received("/dup")) == 3
    assert {r.task_id for r in got} == {task.name.rsplit("/", 1)[1]}
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=task.name)


def test_fail_after_response_retries(client, make_queue, faults, target: Target) -> None:
    faults(fail_after_response=0.5, seed=7)
    queue = make_queue(
        retry_config={
            "min_backoff": timedelta(seconds=0.02),
            "max_backoff": timedelta(seconds=0.05),
        }
    )
    for _ in range(10):
        client.create_task(parent=queue.name, task={"http_request": {"url": target.url("/faf")}})
    wait_for(lambda: list(client.list_tasks(parent=queue.name)) == [], timeout=10)
    got = target.received("/faf")
    assert len(got) > 10
    retried = [r for r in got if r.headers["X-CloudTasks-TaskRetryCount"] != "0"]
    assert retried and all(
        r.headers.get("X-CloudTasks-TaskPreviousResponse") == "200" for r in retried
    )


def test_fail_after_response_all_exhausts_attempts(client, make_queue, faults, target) -> None:
    faults(fail_after_response=1.0)
    queue = make_queue(retry_config={"max_attempts": 3, "min_backoff": timedelta(seconds=0.02)})
    task = client.create_task(parent=queue.name, task={"http_request": {"url": target.url("/all")}})
    target.wait_count("/all", 3)
    time.sleep(0.3)
    assert len(target.received("/all")) == 3
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=task.name)


def test_random_delay(client, make_queue, faults, target: Target) -> None:
    faults(delay_max=0.6, seed=1)
    queue = make_queue()
    created = {}
    for _ in range(10):
        task = client.create_task(
            parent=queue.name, task={"http_request": {"url": target.url("/delay")}}
        )
        created[task.name.rsplit("/", 1)[1]] = task.schedule_time.timestamp()
    got = target.wait_count("/delay", 10)
    lags = [r.at - created[r.task_id] for r in got]
    assert max(lags) > 0.15 and max(lags) < 1.0


def test_faults_rejects_bad_values(emulator) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as info:
        emulator.post_json("/faults", {"fail_after_response": 2})
    assert info.value.code == 400


def test_fault_flags_from_cli(tmp_path, target: Target) -> None:
    emulator = start_emulator(
        tmp_path,
        "--queue",
        "projects/f/locations/l/queues/q",
        "--fault-duplicate",
        "2",
        "--fault-seed",
        "3",
    )
    try:
        assert emulator.get_json("/faults")["duplicate"] == 2
        emulator.client().create_task(
            parent="projects/f/locations/l/queues/q",
            task={"http_request": {"url": target.url("/cli")}},
        )
        target.wait_count("/cli", 2)
    finally:
        emulator.stop()


def test_health(emulator) -> None:
    health = emulator.get_json("/health")
    assert health["status"] == "ok" and isinstance(health["queues"], int)
