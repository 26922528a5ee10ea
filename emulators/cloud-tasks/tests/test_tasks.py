"""Task RPCs: create/get/list/delete, views, pagination, de-duplication, RunTask, schedule."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from tasks_support import Target, start_emulator, wait_for


def _http(target: Target, path: str = "/ok", **request) -> dict:
    return {"url": target.url(path), **request}


def test_create_get_list_delete_with_views(client, make_queue, target: Target) -> None:
    queue = make_queue(paused=True)
    named = client.create_task(
        parent=queue.name,
        task={
            "name": f"{queue.name}/tasks/job-1_batch-0",
            "http_request": _http(target, headers={"X-Job": "1"}, body=b'{"a": 1}'),
        },
    )
    assert named.name.endswith("/tasks/job-1_batch-0")
    assert named.view == tasks_v2.Task.View.BASIC
    assert named.dispatch_deadline == timedelta(minutes=10)
    generated = client.create_task(parent=queue.name, task={"http_request": _http(target)})
    task_id = generated.name.rsplit("/", 1)[1]
    assert task_id.isdigit() and len(task_id) >= 18
    assert generated.create_time is not None and generated.schedule_time is not None

    basic = client.get_task(name=named.name)
    assert basic.http_request.body == b"" and not basic.http_request.headers
    assert basic.http_request.url == target.url("/ok")
    full = client.get_task(request={"name": named.name, "response_view": tasks_v2.Task.View.FULL})
    assert full.view == tasks_v2.Task.View.FULL
    assert full.http_request.body == b'{"a": 1}'
    assert full.http_request.headers["X-Job"] == "1"

    for _ in range(3):
        client.create_task(parent=queue.name, task={"http_request": _http(target)})
    pager = client.list_tasks(request={"parent": queue.name, "page_size": 2})
    first_page = next(iter(pager.pages))
    assert len(first_page.tasks) == 2 and first_page.next_page_token
    listed = list(client.list_tasks(request={"parent": queue.name, "page_size": 2}))
    assert len(listed) == 5
    assert all(t.http_request.body == b"" for t in listed)
    full_list = client.list_tasks(
        request={"parent": queue.name, "response_view": tasks_v2.Task.View.FULL}
    )
    assert any(t.http_request.body == b'{"a": 1}' for t in full_list)

    client.delete_task(name=named.name)
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=named.name)
    with pytest.raises(exceptions.NotFound):
        client.delete_task(name=named.name)


def test_duplicate_names_rejected_while_live_and_tombstoned(client, make_queue, target) -> None:
    queue = make_queue()
    client.pause_queue(name=queue.name)
    live = f"{queue.name}/tasks/live"
    client.create_task(parent=queue.name, task={"name": live, "http_request": _http(target)})
    with pytest.raises(exceptions.AlreadyExists):
        client.create_task(parent=queue.name, task={"name": live, "http_request": _http(target)})
    client.delete_task(name=live)
    with pytest.raises(exceptions.AlreadyExists):
        client.create_task(parent=queue.name, task={"name": live, "http_request": _http(target)})

    client.resume_queue(name=queue.name)
    done = f"{queue.name}/tasks/done"
    client.create_task(parent=queue.name, task={"name": done, "http_request": _http(target, "/dd")})
    target.wait_count("/dd", 1)
    time.sleep(0.1)
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=done)
    with pytest.raises(exceptions.AlreadyExists):
        client.create_task(parent=queue.name, task={"name": done, "http_request": _http(target)})


def test_tombstone_expires_and_env_configuration(tmp_path, target: Target) -> None:
    queue_name = "projects/env-p/locations/l1/queues/from-env"
    emulator = start_emulator(
        tmp_path,
        "--tombstone-seconds",
        "1",
        env={
            "CLOUD_TASKS_EMULATOR_QUEUES": f"{queue_name},projects/env-p/locations/l1/queues/two",
            "CLOUD_TASKS_EMULATOR_LOG_FORMAT": "text",
        },
    )
    try:
        client = emulator.client()
        assert emulator.get_json("/health") == {"status": "ok", "queues": 2}
        assert len(list(client.list_queues(parent="projects/env-p/locations/l1"))) == 2
        name = f"{queue_name}/tasks/again"
        task = {"name": name, "http_request": _http(target, "/tomb")}
        client.create_task(parent=queue_name, task=task)
        target.wait_count("/tomb", 1)
        time.sleep(0.1)
        with pytest.raises(exceptions.AlreadyExists):
            client.create_task(parent=queue_name, task=task)
        time.sleep(1.1)
        client.create_task(parent=queue_name, task=task)
        target.wait_count("/tomb", 2)
        assert "dispatch" in emulator.logs() and "outcome=completed" in emulator.logs()
    finally:
        emulator.stop()


def test_schedule_time_in_future_waits(client, make_queue, target: Target) -> None:
    queue = make_queue()
    eta = datetime.now(UTC) + timedelta(seconds=1.2)
    created = client.create_task(
        parent=queue.name, task={"http_request": _http(target, "/later"), "schedule_time": eta}
    )
    assert abs(created.schedule_time.timestamp() - eta.timestamp()) < 0.01
    time.sleep(0.6)
    assert target.received("/later") == []
    assert len(list(client.list_tasks(parent=queue.name))) == 1
    got = target.wait_count("/later", 1, timeout=5)
    assert got[0].at >= eta.timestamp() - 0.05
    assert abs(float(got[0].headers["X-CloudTasks-TaskETA"]) - eta.timestamp()) < 0.01


def test_run_task_dispatches_even_when_paused(client, make_queue, target: Target) -> None:
    queue = make_queue(paused=True)
    later = datetime.now(UTC) + timedelta(hours=1)
    task = client.create_task(
        parent=queue.name, task={"http_request": _http(target, "/run"), "schedule_time": later}
    )
    ran = client.run_task(name=task.name)
    assert ran.dispatch_count == 1
    assert ran.first_attempt.dispatch_time is not None
    target.wait_count("/run", 1)
    time.sleep(0.1)
    with pytest.raises(exceptions.NotFound):
        client.run_task(name=task.name)


def test_failed_run_task_reschedules_with_backoff(client, make_queue, target: Target) -> None:
    queue = make_queue(
        paused=True,
        retry_config={"min_backoff": timedelta(seconds=5)},
    )
    task = client.create_task(
        parent=queue.name, task={"http_request": _http(target, "/slow-fail/0.5")}
    )
    called = time.time()
    client.run_task(name=task.name)
    target.wait_count("/slow-fail", 1)
    time.sleep(0.7)
    after = client.get_task(name=task.name)
    assert after.dispatch_count == 1 and after.response_count == 1
    assert after.last_attempt.response_time.timestamp() >= called + 0.5
    # "the time that RunTask was called plus the retry delay", not the response time
    assert abs(after.schedule_time.timestamp() - (called + 5)) < 0.25


def test_times_follow_the_reference(client, make_queue, target: Target) -> None:
    """create_time to the second, a past schedule_time becomes now, deadline to the ms."""
    queue = make_queue(paused=True)
    before = time.time()
    task = client.create_task(
        parent=queue.name,
        task={
            "http_request": _http(target),
            "schedule_time": datetime.now(UTC) - timedelta(hours=1),
            "dispatch_deadline": timedelta(seconds=15, microseconds=400),
        },
    )
    created = task.create_time.timestamp()
    assert created == int(created) and before - 1 < created <= time.time()
    assert before - 0.01 <= task.schedule_time.timestamp() <= time.time() + 0.01
    assert task.dispatch_deadline == timedelta(seconds=15)


def test_task_retry_config_overrides_the_queue(client, make_queue, target: Target) -> None:
    queue = make_queue(retry_config={"max_attempts": 50, "min_backoff": timedelta(seconds=30)})
    task = client.create_task(
        parent=queue.name,
        task={
            "http_request": _http(target, "/status/500"),
            "retry_config": {
                "max_attempts": 3,
                "min_backoff": timedelta(seconds=0.1),
                "max_backoff": timedelta(seconds=0.1),
            },
        },
    )
    assert task.retry_config.max_attempts == 3
    assert task.retry_config.max_doublings == 16  # unset fields take the defaults
    target.wait_count("/status/500", 3, timeout=5)
    time.sleep(0.5)
    assert len(target.received("/status/500")) == 3
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=task.name)
    with pytest.raises(exceptions.InvalidArgument):
        client.create_task(
            parent=queue.name,
            task={"http_request": _http(target), "retry_config": {"max_attempts": -2}},
        )


def test_run_task_dispatches_even_while_running(client, make_queue, target: Target) -> None:
    queue = make_queue()
    task = client.create_task(parent=queue.name, task={"http_request": _http(target, "/sleep/1")})
    wait_for(lambda: target.in_flight == 1)
    ran = client.run_task(name=task.name)
    assert ran.dispatch_count == 2
    wait_for(lambda: target.max_in_flight == 2, timeout=3)
    target.wait_count("/sleep", 2)


def test_tasks_are_deleted_after_the_retention(tmp_path, target: Target) -> None:
    queue_name = "projects/ret-p/locations/l1/queues/ret"
    emulator = start_emulator(tmp_path, "--queue", queue_name, "--task-retention-seconds", "2")
    try:
        client = emulator.client()
        client.pause_queue(name=queue_name)
        waiting = client.create_task(parent=queue_name, task={"http_request": _http(target)})
        time.sleep(1)
        assert client.get_task(name=waiting.name).name == waiting.name
        time.sleep(1.2)
        with pytest.raises(exceptions.NotFound):
            client.get_task(name=waiting.name)
        assert list(client.list_tasks(parent=queue_name)) == []

        client.resume_queue(name=queue_name)
        client.update_queue(
            queue={"name": queue_name, "retry_config": {"min_backoff": timedelta(seconds=1)}}
        )
        failing = client.create_task(
            parent=queue_name, task={"http_request": _http(target, "/status/500")}
        )
        target.wait_count("/status/500", 1)
        time.sleep(2.5)
        # attempts at 0 s and 1 s; the next (at 3 s) would pass the 2 s retention
        assert len(target.received("/status/500")) == 2
        with pytest.raises(exceptions.NotFound):
            client.get_task(name=failing.name)
        assert '"outcome":"expired"' in emulator.logs()
    finally:
        emulator.stop()
