"""Pure unit tests: backoff rule, retry limits, names, handler error mapping."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from cloud_tasks_emulator import names
from cloud_tasks_emulator.cli import settings_from_args
from cloud_tasks_emulator.errors import ApiError
from cloud_tasks_emulator.queue_config import RateConfig, RetryPolicy
from cloud_tasks_emulator.service import MAX_QUEUE_PAGE, MAX_TASK_PAGE, _guard, _page


def test_backoff_matches_documented_example() -> None:
    policy = RetryPolicy(min_backoff=10, max_backoff=300, max_doublings=3)
    assert [policy.backoff(n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 240, 300, 300]


def test_backoff_with_zero_doublings_is_linear() -> None:
    policy = RetryPolicy(min_backoff=1, max_backoff=4, max_doublings=0)
    assert [policy.backoff(n) for n in range(1, 6)] == [1, 2, 3, 4, 4]


@pytest.mark.parametrize(
    ("attempts", "duration", "tried", "elapsed", "expected"),
    [
        (3, 0, 3, 0.0, True),
        (3, 0, 2, 999.0, False),
        (3, 10, 3, 5.0, False),
        (3, 10, 3, 10.0, True),
        (-1, 10, 50, 10.0, True),
        (-1, 0, 10_000, 1e9, False),
    ],
)
def test_retry_limits_need_all_configured_limits(
    attempts, duration, tried, elapsed, expected
) -> None:
    policy = RetryPolicy(max_attempts=attempts, max_retry_duration=duration)
    assert policy.exhausted(tried, elapsed) is expected


def test_names() -> None:
    task = names.parse_task("projects/my-proj:x.y/locations/us-east1/queues/q-1/tasks/a_b-C")
    assert task.task_id == "a_b-C" and task.queue.queue_id == "q-1"
    assert str(task) == "projects/my-proj:x.y/locations/us-east1/queues/q-1/tasks/a_b-C"
    with pytest.raises(ApiError):
        names.parse_queue("projects/p/locations/l/queues/q/tasks/t")
    assert names.new_task_id().isdigit()


class _Context:
    def __init__(self) -> None:
        self.aborted: tuple[Any, str] | None = None

    async def abort(self, code: Any, message: str) -> None:
        self.aborted = (code, message)
        raise RuntimeError("aborted")


def test_unexpected_exception_becomes_internal() -> None:
    async def broken(_: object) -> None:
        raise KeyError("boom")

    context = _Context()
    with pytest.raises(RuntimeError, match="aborted"):
        asyncio.run(_guard(broken)(object(), context))  # type: ignore[arg-type]
    assert context.aborted is not None
    assert context.aborted[0] == grpc.StatusCode.INTERNAL and "boom" in context.aborted[1]


def test_list_page_sizes_are_capped_at_the_documented_maxima() -> None:
    keys = [f"k{i:05d}" for i in range(MAX_QUEUE_PAGE + 1)]
    page, token = _page(keys, 0, "", MAX_QUEUE_PAGE)
    assert (MAX_QUEUE_PAGE, MAX_TASK_PAGE) == (9800, 1000)
    assert len(page) == 9800 and token
    page, token = _page(keys, 50_000, "", MAX_TASK_PAGE)
    assert len(page) == 1000 and token


def test_cli_defaults_follow_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("TOMBSTONE_SECONDS", "TASK_RETENTION_SECONDS"):
        monkeypatch.delenv(f"CLOUD_TASKS_EMULATOR_{variable}", raising=False)
    settings = settings_from_args([])
    assert settings.tombstone_seconds == 24 * 3600  # IDs "can take up to 24 hours" to free
    assert settings.task_retention_seconds == 31 * 24 * 3600  # tasks live 31 days at most


def test_max_burst_size_at_least_the_rate() -> None:
    assert [RateConfig(rate).max_burst_size for rate in (0.5, 5, 10.5, 500)] == [1, 5, 11, 500]
