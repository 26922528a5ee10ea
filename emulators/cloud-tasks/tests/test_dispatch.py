"""HTTP dispatch: headers, retries and backoff, limits, deadlines, isolation of slow targets."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from tasks_support import Target, free_port, wait_for


def test_dispatch_sends_request_and_cloud_tasks_headers(client, make_queue, target) -> None:
    queue = make_queue()
    queue_id = queue.name.rsplit("/", 1)[1]
    task = client.create_task(
        parent=queue.name,
        task={
            "name": f"{queue.name}/tasks/hdr",
            "http_request": {
                "url": target.url("/hdr?x=1"),
                "http_method": tasks_v2.HttpMethod.PUT,
                "headers": {"Content-Type": "application/json", "X-Custom": "yes"},
                "body": b'{"k": "v"}',
            },
        },
    )
    (got,) = target.wait_count("/hdr", 1)
    assert got.method == "PUT" and got.path == "/hdr?x=1" and got.body == b'{"k": "v"}'
    h = got.headers
    assert h["Content-Type"] == "application/json" and h["X-Custom"] == "yes"
    assert h["User-Agent"] == "Google-Cloud-Tasks"
    assert h["X-CloudTasks-QueueName"] == queue_id
    assert h["X-CloudTasks-TaskName"] == "hdr"
    assert h["X-CloudTasks-TaskRetryCount"] == "0"
    assert h["X-CloudTasks-TaskExecutionCount"] == "0"
    assert float(h["X-CloudTasks-TaskETA"]) == pytest.approx(
        task.schedule_time.timestamp(), abs=0.01
    )
    assert "Authorization" not in h


def test_retries_follow_documented_backoff(client, make_queue, target: Target) -> None:
    queue = make_queue(
        retry_config={
            "max_attempts": 5,
            "min_backoff": timedelta(seconds=0.2),
            "max_backoff": timedelta(seconds=10),
            "max_doublings": 2,
        }
    )
    task = client.create_task(
        parent=queue.name, task={"http_request": {"url": target.url("/status/500")}}
    )
    got = target.wait_count("/status/500", 5, timeout=10)
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    # min 0.2 doubling twice (0.2, 0.4, 0.8), then linear by 2^2 * 0.2 = 0.8 (1.6, ...)
    for gap, expected in zip(gaps, [0.2, 0.4, 0.8, 1.6], strict=True):
        assert expected - 0.05 <= gap <= expected * 1.3 + 0.15, (gaps, expected)
    assert [r.headers["X-CloudTasks-TaskRetryCount"] for r in got] == ["0", "1", "2", "3", "4"]
    # 5xx responses are not executions (Cloud Tasks' handler docs)
    assert [r.headers["X-CloudTasks-TaskExecutionCount"] for r in got] == ["0"] * 5
    assert got[1].headers["X-CloudTasks-TaskPreviousResponse"] == "500"
    time.sleep(0.6)  # max_attempts reached: the task is dropped, no sixth attempt
    assert len(target.received("/status/500")) == 5
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=task.name)


def test_retry_until_success_updates_attempts(client, make_queue, target: Target) -> None:
    queue = make_queue(retry_config={"min_backoff": timedelta(seconds=0.05)}, paused=True)
    task = client.create_task(
        parent=queue.name, task={"http_request": {"url": target.url("/flaky/2")}}
    )
    client.resume_queue(name=queue.name)
    wait_for(lambda: len(target.received("/flaky")) >= 2)
    snapshot = client.get_task(name=task.name)
    assert snapshot.dispatch_count >= 2 and snapshot.response_count >= 1
    assert snapshot.last_attempt.response_status.code == 13  # INTERNAL for HTTP 500
    got = target.wait_count("/flaky", 3)
    time.sleep(0.2)
    assert len(target.received("/flaky")) == 3
    assert got[2].headers["X-CloudTasks-TaskRetryCount"] == "2"


def test_max_retry_duration_and_max_attempts_both_needed(client, make_queue, target) -> None:
    queue = make_queue(
        retry_config={
            "max_attempts": 2,
            "max_retry_duration": timedelta(seconds=1),
            "min_backoff": timedelta(seconds=0.2),
            "max_backoff": timedelta(seconds=0.2),
        }
    )
    client.create_task(parent=queue.name, task={"http_request": {"url": target.url("/status/502")}})
    time.sleep(1.8)
    count = len(target.received("/status/502"))
    # 2 attempts alone would stop at 0.2 s; the 1 s duration keeps it retrying (~every 0.2 s)
    assert 4 <= count <= 8, count
    time.sleep(0.5)
    assert len(target.received("/status/502")) == count


def test_max_concurrent_dispatches_respected(client, make_queue, target: Target) -> None:
    queue = make_queue(rate_limits={"max_concurrent_dispatches": 3}, paused=True)
    for _ in range(12):
        client.create_task(
            parent=queue.name, task={"http_request": {"url": target.url("/sleep/0.25")}}
        )
    client.resume_queue(name=queue.name)
    target.wait_count("/sleep", 12, timeout=10)
    assert target.max_in_flight == 3


def test_many_tasks_dispatch_concurrently(client, make_queue, target: Target) -> None:
    queue = make_queue(paused=True)
    for _ in range(20):
        client.create_task(
            parent=queue.name, task={"http_request": {"url": target.url("/sleep/2")}}
        )
    client.resume_queue(name=queue.name)
    started = time.monotonic()
    target.wait_count("/sleep", 20, timeout=10)
    wait_for(lambda: target.in_flight == 0)
    # One at a time would take 40 s. Each handler sleeps long enough that a loaded machine,
    # slow to start the 20 deliveries, still has most of them open at once.
    assert time.monotonic() - started < 6.0
    assert target.max_in_flight >= 15


def test_max_dispatches_per_second_respected(client, make_queue, target: Target) -> None:
    queue = make_queue(rate_limits={"max_dispatches_per_second": 10}, paused=True)
    assert queue.rate_limits.max_burst_size == 10
    for _ in range(30):
        client.create_task(parent=queue.name, task={"http_request": {"url": target.url("/rate")}})
    client.resume_queue(name=queue.name)
    got = target.wait_count("/rate", 30, timeout=10)
    span = got[-1].at - got[0].at
    # a burst of 10, then 20 more at 10/s: about 2 s
    assert 1.7 <= span <= 3.2, span
    assert got[9].at - got[0].at < 0.5


def test_rate_limit_update_takes_effect_on_running_queue(client, make_queue, target) -> None:
    queue = make_queue(rate_limits={"max_dispatches_per_second": 1}, paused=True)
    for _ in range(10):
        client.create_task(parent=queue.name, task={"http_request": {"url": target.url("/upd")}})
    client.resume_queue(name=queue.name)
    time.sleep(0.5)
    assert len(target.received("/upd")) <= 2
    client.update_queue(
        queue={"name": queue.name, "rate_limits": {"max_dispatches_per_second": 500}}
    )
    target.wait_count("/upd", 10, timeout=3)


def test_unreachable_and_hanging_targets_do_not_block_others(client, make_queue, target) -> None:
    hanging = make_queue(rate_limits={"max_concurrent_dispatches": 2})
    other = make_queue()
    refused = f"http://127.0.0.1:{free_port()}/nobody"
    for _ in range(2):
        client.create_task(
            parent=hanging.name, task={"http_request": {"url": target.url("/sleep/20")}}
        )
    client.create_task(parent=other.name, task={"http_request": {"url": refused}})
    wait_for(lambda: target.in_flight == 2)
    client.create_task(parent=other.name, task={"http_request": {"url": target.url("/other")}})
    client.create_task(parent=hanging.name, task={"http_request": {"url": target.url("/queued")}})
    target.wait_count("/other", 1, timeout=3)
    time.sleep(0.3)
    assert target.received("/queued") == []  # its own queue's concurrency limit is full
    client.delete_queue(name=hanging.name)


def _past_its_deadline(client, queue, target: Target):
    """A task whose first answer takes 17 s, past its 15 s dispatch deadline."""
    return client.create_task(
        parent=queue.name,
        task={
            "http_request": {"url": target.url("/sleep-first/17")},
            "dispatch_deadline": timedelta(seconds=15),
        },
    )


@pytest.mark.slow
def test_dispatch_deadline_is_enforced(client, make_queue, target: Target) -> None:
    task = _past_its_deadline(
        client, make_queue(retry_config={"min_backoff": timedelta(seconds=0.1)}), target
    )
    assert task.dispatch_deadline == timedelta(seconds=15)
    first, second = target.wait_count("/sleep-first", 2, timeout=20)
    assert 14.8 <= second.at - first.at <= 16.5
    assert second.headers["X-CloudTasks-TaskRetryCount"] == "1"
    assert second.headers["X-CloudTasks-TaskRetryReason"] == "DEADLINE_EXCEEDED"
    assert "X-CloudTasks-TaskPreviousResponse" not in second.headers


def test_headers_ignored_replaced_or_passed(client, make_queue, target: Target) -> None:
    queue = make_queue()
    queue_id = queue.name.rsplit("/", 1)[1]
    client.create_task(
        parent=queue.name,
        task={
            "name": f"{queue.name}/tasks/real",
            "http_request": {
                "url": target.url("/reserved"),
                "body": b"raw bytes",
                "headers": {
                    "Host": "evil.example",
                    "User-Agent": "mine",
                    "X-CloudTasks-TaskName": "forged",
                    "x-cloudtasks-queuename": "forged",
                    "X-Google-Thing": "1",
                    "X-AppEngine-Country": "ZZ",
                    "Authorization": "Bearer caller-token",
                    "X-Keep": "kept",
                },
            },
        },
    )
    (got,) = target.wait_count("/reserved", 1)
    h = {k.lower(): v for k, v in got.headers.items()}
    assert [k for k in got.headers if k.lower() == "x-cloudtasks-queuename"] == [
        "X-CloudTasks-QueueName"
    ]
    assert h["x-cloudtasks-queuename"] == queue_id and h["x-cloudtasks-taskname"] == "real"
    assert h["host"] == f"127.0.0.1:{target.server.server_port}"
    assert h["user-agent"] == "Google-Cloud-Tasks"
    assert "x-google-thing" not in h and "x-appengine-country" not in h
    assert h["authorization"] == "Bearer caller-token"  # no token configured: kept
    assert h["x-keep"] == "kept"
    assert "content-type" not in h  # "Content-Type won't be set by Cloud Tasks"
    assert got.body == b"raw bytes"


def test_token_replaces_caller_authorization(client, make_queue, target: Target) -> None:
    queue = make_queue()
    client.create_task(
        parent=queue.name,
        task={
            "http_request": {
                "url": target.url("/authz"),
                "headers": {"Authorization": "Bearer caller-token"},
                "oidc_token": {"service_account_email": "sa@p.iam.gserviceaccount.com"},
            }
        },
    )
    (got,) = target.wait_count("/authz", 1)
    values = [v for k, v in got.headers.items() if k.lower() == "authorization"]
    assert len(values) == 1 and values[0].startswith("Bearer ey")


def test_execution_count_excludes_5xx(client, make_queue, target: Target) -> None:
    queue = make_queue(retry_config={"min_backoff": timedelta(seconds=0.05)})
    task = client.create_task(
        parent=queue.name, task={"http_request": {"url": target.url("/sequence/503,404,200")}}
    )
    got = target.wait_count("/sequence", 3)
    assert [r.headers["X-CloudTasks-TaskRetryCount"] for r in got] == ["0", "1", "2"]
    assert [r.headers["X-CloudTasks-TaskExecutionCount"] for r in got] == ["0", "0", "1"]
    assert [r.headers.get("X-CloudTasks-TaskPreviousResponse") for r in got] == [
        None,
        "503",
        "404",
    ]
    time.sleep(0.2)
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=task.name)


def test_redirect_followed_within_one_attempt(client, make_queue, target: Target) -> None:
    queue = make_queue(paused=True)
    task = client.create_task(
        parent=queue.name, task={"http_request": {"url": target.url("/redirect/x")}}
    )
    client.resume_queue(name=queue.name)
    (arrived,) = target.wait_count("/redirected/x", 1)
    assert arrived.headers["X-CloudTasks-TaskRetryCount"] == "0"
    time.sleep(0.2)
    assert len(target.received("/redirect/")) == 1
    with pytest.raises(exceptions.NotFound):  # completed by the 2xx after the redirect
        client.get_task(name=task.name)


def test_retry_after_pushes_the_retry_later(client, make_queue, target: Target) -> None:
    queue = make_queue(retry_config={"min_backoff": timedelta(seconds=0.1)})
    client.create_task(
        parent=queue.name, task={"http_request": {"url": target.url("/retry-after/2")}}
    )
    first, second = target.wait_count("/retry-after", 2, timeout=5)
    assert 1.9 <= second.at - first.at <= 2.6


def test_failed_attempt_without_response_is_complete(client, make_queue) -> None:
    queue = make_queue(retry_config={"min_backoff": timedelta(seconds=30)})
    task = client.create_task(
        parent=queue.name, task={"http_request": {"url": f"http://127.0.0.1:{free_port()}/x"}}
    )
    got = wait_for(
        lambda: (
            (t := client.get_task(name=task.name)).dispatch_count == 1
            and "response_time" in t.last_attempt
            and t
        )
    )
    assert got.response_count == 0
    assert got.last_attempt.response_status.code == 14  # UNAVAILABLE: connection refused
    assert got.last_attempt.response_time >= got.last_attempt.dispatch_time


@pytest.mark.slow
def test_an_attempt_past_its_deadline_is_deadline_exceeded(
    client, make_queue, target: Target
) -> None:
    task = _past_its_deadline(
        client, make_queue(retry_config={"min_backoff": timedelta(seconds=60)}), target
    )
    got = wait_for(
        lambda: (t := client.get_task(name=task.name)) and "response_time" in t.last_attempt and t,
        timeout=25,
    )
    assert got.response_count == 0
    assert got.last_attempt.response_status.code == 4  # DEADLINE_EXCEEDED
