"""Bad input gets the status Cloud Tasks gives and never takes the server down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from tasks_support import PARENT


@pytest.mark.parametrize(
    "name",
    [
        "queues/q",
        f"{PARENT}/queues/bad_underscore",
        f"{PARENT}/queues/" + "a" * 101,
        "projects/p p/locations/l/queues/q",
        f"{PARENT}/queues/",
    ],
)
def test_invalid_queue_names(client, name) -> None:
    with pytest.raises(exceptions.InvalidArgument):
        client.get_queue(name=name)


def test_create_queue_outside_parent(client) -> None:
    with pytest.raises(exceptions.InvalidArgument):
        client.create_queue(parent="projects/x/locations/y", queue={"name": f"{PARENT}/queues/q"})


def test_missing_queue_is_not_found(client) -> None:
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=f"{PARENT}/queues/does-not-exist")
    with pytest.raises(exceptions.NotFound):
        client.create_task(
            parent=f"{PARENT}/queues/does-not-exist",
            task={"http_request": {"url": "http://127.0.0.1:9/"}},
        )
    with pytest.raises(exceptions.NotFound):
        client.list_tasks(parent=f"{PARENT}/queues/does-not-exist")


def _bad_tasks(queue: str) -> list[tuple[dict, type[Exception]]]:
    url = "http://127.0.0.1:9/x"
    invalid = exceptions.InvalidArgument
    return [
        ({"name": f"{queue}/tasks/bad.dot", "http_request": {"url": url}}, invalid),
        ({"name": f"{queue}/tasks/" + "a" * 501, "http_request": {"url": url}}, invalid),
        ({"name": f"{PARENT}/queues/other/tasks/t", "http_request": {"url": url}}, invalid),
        ({"http_request": {"url": url, "body": b"x" * (100 * 1024 + 1)}}, invalid),
        ({"http_request": {"url": url, "headers": {"X-Big": "v" * (80 * 1024)}}}, invalid),
        # 700 spaces are 2100 characters once percent-encoded: over the 2083 limit
        ({"http_request": {"url": url + " " * 700}}, invalid),
        ({"http_request": {"url": url}, "dispatch_deadline": timedelta(seconds=5)}, invalid),
        ({"http_request": {"url": url}, "dispatch_deadline": timedelta(minutes=31)}, invalid),
        (
            {"http_request": {"url": url}, "schedule_time": datetime.now(UTC) + timedelta(days=31)},
            invalid,
        ),
        ({"http_request": {"url": "ftp://host/x"}}, invalid),
        ({"http_request": {"url": ""}}, invalid),
        (
            {"http_request": {"url": url, "http_method": tasks_v2.HttpMethod.GET, "body": b"x"}},
            invalid,
        ),
        ({"http_request": {"url": url, "oidc_token": {"audience": "a"}}}, invalid),
        ({}, invalid),
        ({"app_engine_http_request": {"relative_uri": "/x"}}, exceptions.MethodNotImplemented),
    ]


def test_invalid_tasks_rejected(client, make_queue, emulator) -> None:
    queue = make_queue()
    for task, error in _bad_tasks(queue.name):
        with pytest.raises(error):
            client.create_task(parent=queue.name, task=task)
    with pytest.raises(exceptions.InvalidArgument):
        client.get_task(name=f"{queue.name}/tasks/no*pe")
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=f"{queue.name}/tasks/nope")
    with pytest.raises(exceptions.InvalidArgument):
        client.list_tasks(request={"parent": queue.name, "page_token": "%%%"})
    # A body just under the 100KB task limit is allowed; the server is still healthy after all.
    ok = client.create_task(
        parent=queue.name,
        task={"http_request": {"url": "http://127.0.0.1:9/x", "body": b"x" * 100_000}},
    )
    client.delete_task(name=ok.name)
    assert emulator.get_json("/health")["status"] == "ok"


def test_unimplemented_rpc(client) -> None:
    with pytest.raises(exceptions.MethodNotImplemented):
        client.get_iam_policy(resource=f"{PARENT}/queues/q")
