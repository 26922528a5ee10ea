"""Deterministic Cloud Tasks names: an enqueue that is retried is refused, not doubled.

Each name opens with a hash of the job id: job ids begin with their time, and Cloud Tasks
warns that names with sequential prefixes (a timestamp) raise latency and error rates of
every task command (CreateTaskRequest.task)."""

from __future__ import annotations

import hashlib

PLAN_PATH = "/tasks/plan"
BATCH_PATH = "/tasks/ingest-batch"
FINALIZE_PATH = "/tasks/finalize"


def _job(job_id: str) -> str:
    spread = hashlib.sha256(job_id.encode()).hexdigest()[:8]
    return f"{spread}-job-{job_id}"


def plan_task(job_id: str) -> str:
    return f"{_job(job_id)}-plan"


def batch_task(job_id: str, batch: int) -> str:
    return f"{_job(job_id)}-batch-{batch:05d}"


def batch_part_task(job_id: str, batch: int, start: int) -> str:
    """The rest of a batch, from its file `start` on, after a part that outran its budget."""
    return f"{batch_task(job_id, batch)}-from-{start:05d}"


def finalize_task(job_id: str) -> str:
    return f"{_job(job_id)}-finalize"
