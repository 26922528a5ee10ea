"""Cloud Tasks names of a job's tasks: deterministic, valid, and not sequential."""

from __future__ import annotations

import re

from thoth.ingest.pipeline.task_names import batch_task, finalize_task, plan_task

# CreateTaskRequest.task: letters, digits, hyphens and underscores, at most 500 characters.
TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,500}")


def test_names_are_deterministic_valid_and_spread() -> None:
    jobs = [f"20261128t1911{second:02d}-abcd" for second in range(30)]
    names = [plan_task(job) for job in jobs]
    assert names == [plan_task(job) for job in jobs]
    for job in jobs:
        for name in (plan_task(job), batch_task(job, 3), finalize_task(job)):
            assert TASK_ID.fullmatch(name) and job in name
    # Consecutive job ids (they begin with their time) must not give sequential prefixes.
    assert len({name[:4] for name in names}) > 20
    assert batch_task(jobs[0], 3).endswith("-batch-00003")
