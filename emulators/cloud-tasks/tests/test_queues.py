"""Queue RPCs: create/get/list/update/delete, pagination, defaults, pause/resume/purge."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from google.protobuf import field_mask_pb2
from tasks_support import PARENT, Target


def test_queue_defaults_match_cloud_tasks(make_queue) -> None:
    queue = make_queue()
    assert queue.state == tasks_v2.Queue.State.RUNNING
    assert queue.rate_limits.max_dispatches_per_second == 500
    assert queue.rate_limits.max_concurrent_dispatches == 1000
    assert queue.rate_limits.max_burst_size == 500  # "generally at least" the rate
    retry = queue.retry_config
    assert retry.max_attempts == 100
    assert retry.min_backoff == timedelta(seconds=0.1)
    assert retry.max_backoff == timedelta(seconds=3600)
    assert retry.max_doublings == 16
    assert retry.max_retry_duration == timedelta(0)


def test_queue_crud_and_pagination(client) -> None:
    location = f"projects/p-{uuid.uuid4().hex[:8]}/locations/europe-west1"
    names = [f"{location}/queues/q{i}" for i in range(5)]
    for name in names:
        client.create_queue(parent=location, queue={"name": name})
    with pytest.raises(exceptions.AlreadyExists):
        client.create_queue(parent=location, queue={"name": names[0]})
    assert client.get_queue(name=names[2]).name == names[2]

    first = client.list_queues(request={"parent": location, "page_size": 2})
    page = next(iter(first.pages))
    assert [q.name for q in page.queues] == names[:2]
    assert page.next_page_token
    assert [
        q.name for q in client.list_queues(request={"parent": location, "page_size": 2})
    ] == names

    client.delete_queue(name=names[0])
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=names[0])
    with pytest.raises(exceptions.NotFound):
        client.delete_queue(name=names[0])
    assert len(list(client.list_queues(parent=location))) == 4
    for name in names[1:]:
        client.delete_queue(name=name)


def test_update_queue_honours_mask(client, make_queue) -> None:
    queue = make_queue(rate_limits={"max_concurrent_dispatches": 7})
    update = tasks_v2.Queue(
        name=queue.name,
        rate_limits={"max_dispatches_per_second": 20, "max_concurrent_dispatches": 99},
        retry_config={"max_attempts": 3},
    )
    mask = field_mask_pb2.FieldMask(paths=["rate_limits.max_dispatches_per_second"])
    updated = client.update_queue(queue=update, update_mask=mask)
    assert updated.rate_limits.max_dispatches_per_second == 20
    assert updated.rate_limits.max_concurrent_dispatches == 7
    assert updated.retry_config.max_attempts == 100

    mask = field_mask_pb2.FieldMask(paths=["retry_config"])
    updated = client.update_queue(queue=update, update_mask=mask)
    assert updated.retry_config.max_attempts == 3
    assert client.get_queue(name=queue.name).retry_config.max_attempts == 3

    for path in ["rate_limits.bogus", "retry_config.max_burst_size", "name", "state"]:
        with pytest.raises(exceptions.InvalidArgument, match="update_mask"):
            client.update_queue(queue=update, update_mask=field_mask_pb2.FieldMask(paths=[path]))
    with pytest.raises(exceptions.InvalidArgument, match="output only"):
        client.update_queue(
            queue=update,
            update_mask=field_mask_pb2.FieldMask(paths=["rate_limits.max_burst_size"]),
        )
    assert client.get_queue(name=queue.name).rate_limits.max_dispatches_per_second == 20


def test_update_queue_creates_missing_queue(client) -> None:
    name = f"{PARENT}/queues/upsert-{uuid.uuid4().hex[:8]}"
    created = client.update_queue(
        queue={"name": name, "rate_limits": {"max_concurrent_dispatches": 4}}
    )
    assert created.rate_limits.max_concurrent_dispatches == 4
    client.delete_queue(name=name)


@pytest.mark.parametrize(
    "fields",
    [
        {"rate_limits": {"max_dispatches_per_second": 501}},
        {"rate_limits": {"max_concurrent_dispatches": 5001}},
        {"retry_config": {"max_attempts": -2}},
        {
            "retry_config": {
                "min_backoff": timedelta(seconds=10),
                "max_backoff": timedelta(seconds=1),
            }
        },
        {"retry_config": {"max_doublings": -1}},
        {"retry_config": {"min_backoff": timedelta(seconds=-1)}},
        {"retry_config": {"max_retry_duration": timedelta(seconds=-5)}},
    ],
)
def test_invalid_queue_config(client, fields) -> None:
    name = f"{PARENT}/queues/bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(exceptions.InvalidArgument):
        client.create_queue(parent=PARENT, queue={"name": name, **fields})


def _task(target: Target, path: str = "/ok", **fields) -> dict:
    return {"http_request": {"url": target.url(path)}, **fields}


def test_pause_resume(client, make_queue, target: Target) -> None:
    queue = make_queue()
    paused = client.pause_queue(name=queue.name)
    assert paused.state == tasks_v2.Queue.State.PAUSED
    for _ in range(3):
        client.create_task(parent=queue.name, task=_task(target, "/paused"))
    time.sleep(0.4)
    assert target.received("/paused") == []
    resumed = client.resume_queue(name=queue.name)
    assert resumed.state == tasks_v2.Queue.State.RUNNING
    target.wait_count("/paused", 3)


def test_update_queue_cannot_change_state(client, make_queue) -> None:
    queue = make_queue()
    with pytest.raises(exceptions.InvalidArgument):
        client.update_queue(
            queue={"name": queue.name, "state": tasks_v2.Queue.State.PAUSED},
            update_mask=field_mask_pb2.FieldMask(paths=["state"]),
        )
    assert client.get_queue(name=queue.name).state == tasks_v2.Queue.State.RUNNING


def test_purge_removes_all_tasks(client, make_queue, target: Target) -> None:
    queue = make_queue(paused=True)
    assert queue.state == tasks_v2.Queue.State.PAUSED
    for _ in range(4):
        client.create_task(parent=queue.name, task=_task(target, "/purged"))
    assert len(list(client.list_tasks(parent=queue.name))) == 4
    purged = client.purge_queue(name=queue.name)
    assert purged.purge_time is not None
    assert list(client.list_tasks(parent=queue.name)) == []
    client.resume_queue(name=queue.name)
    time.sleep(0.3)
    assert target.received("/purged") == []


def test_terraform_queue_settings_round_trip(client, make_queue) -> None:
    """terraform/modules/ingestion's google_cloud_tasks_queue, as the provider sends it."""
    queue = make_queue(
        rate_limits={"max_concurrent_dispatches": 10, "max_dispatches_per_second": 5},
        retry_config={
            "max_attempts": 10,
            "min_backoff": timedelta(seconds=10),
            "max_backoff": timedelta(seconds=300),
            "max_doublings": 4,
            "max_retry_duration": timedelta(0),
        },
        stackdriver_logging_config={"sampling_ratio": 1.0},
    )
    got = client.get_queue(name=queue.name)
    assert got.rate_limits.max_concurrent_dispatches == 10
    assert got.rate_limits.max_dispatches_per_second == 5
    assert got.rate_limits.max_burst_size == 5
    retry = got.retry_config
    assert (retry.max_attempts, retry.max_doublings) == (10, 4)
    assert retry.min_backoff == timedelta(seconds=10)
    assert retry.max_backoff == timedelta(seconds=300)
    assert retry.max_retry_duration == timedelta(0)
    assert got.stackdriver_logging_config.sampling_ratio == 1.0


def test_stackdriver_logging_config_kept_updated_and_validated(client, make_queue) -> None:
    plain = make_queue()
    assert "stackdriver_logging_config" not in client.get_queue(name=plain.name)
    queue = make_queue(stackdriver_logging_config={"sampling_ratio": 0.25})
    assert queue.stackdriver_logging_config.sampling_ratio == 0.25
    updated = client.update_queue(
        queue={"name": queue.name, "stackdriver_logging_config": {"sampling_ratio": 0.5}},
        update_mask=field_mask_pb2.FieldMask(paths=["stackdriver_logging_config.sampling_ratio"]),
    )
    assert updated.stackdriver_logging_config.sampling_ratio == 0.5
    kept = client.update_queue(
        queue={"name": queue.name, "rate_limits": {"max_dispatches_per_second": 7}},
        update_mask=field_mask_pb2.FieldMask(paths=["rate_limits"]),
    )
    assert kept.stackdriver_logging_config.sampling_ratio == 0.5
    name = f"{PARENT}/queues/bad-{uuid.uuid4().hex[:8]}"
    for ratio in (1.5, -0.1):
        with pytest.raises(exceptions.InvalidArgument, match="sampling_ratio"):
            client.create_queue(
                parent=PARENT,
                queue={"name": name, "stackdriver_logging_config": {"sampling_ratio": ratio}},
            )


def test_max_retry_duration_truncated_to_seconds(make_queue) -> None:
    queue = make_queue(retry_config={"max_retry_duration": timedelta(seconds=90.7)})
    assert queue.retry_config.max_retry_duration == timedelta(seconds=90)


def test_app_engine_routing_override_refused(client, make_queue) -> None:
    fields = {"app_engine_routing_override": {"service": "default"}}
    name = f"{PARENT}/queues/unsup-{uuid.uuid4().hex[:8]}"
    with pytest.raises(exceptions.MethodNotImplemented, match="not supported"):
        client.create_queue(parent=PARENT, queue={"name": name, **fields})
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=name)
    existing = make_queue()
    with pytest.raises(exceptions.MethodNotImplemented, match="not supported"):
        client.update_queue(queue={"name": existing.name, **fields})
    with pytest.raises(exceptions.MethodNotImplemented, match="not supported"):
        client.update_queue(
            queue={"name": existing.name},
            update_mask=field_mask_pb2.FieldMask(paths=[next(iter(fields))]),
        )


def test_list_queues_filter_on_state(client) -> None:
    location = f"projects/f-{uuid.uuid4().hex[:8]}/locations/us-east1"
    names = [f"{location}/queues/q{i}" for i in range(3)]
    for name in names:
        client.create_queue(parent=location, queue={"name": name})
    client.pause_queue(name=names[1])

    def listed(filter_: str) -> list[str]:
        return [q.name for q in client.list_queues(request={"parent": location, "filter": filter_})]

    assert listed("state: PAUSED") == [names[1]]
    assert listed("state = RUNNING") == [names[0], names[2]]
    assert listed("state != PAUSED") == [names[0], names[2]]
    assert listed("") == names
    with pytest.raises(exceptions.MethodNotImplemented, match="filter"):
        listed("name:q1")
    with pytest.raises(exceptions.InvalidArgument, match="state"):
        listed("state: SLEEPING")
    for name in names:
        client.delete_queue(name=name)
