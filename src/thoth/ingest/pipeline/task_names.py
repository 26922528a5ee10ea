"""Deterministic Cloud Tasks names: an enqueue that is retried is refused, not doubled."""

from __future__ import annotations

PLAN_PATH = "/tasks/plan"
BATCH_PATH = "/tasks/ingest-batch"
FINALIZE_PATH = "/tasks/finalize"


def plan_task(job_id: str) -> str:
    return f"job-{job_id}-plan"


def batch_task(job_id: str, batch: int) -> str:
    return f"job-{job_id}-batch-{batch:05d}"


def finalize_task(job_id: str) -> str:
    return f"job-{job_id}-finalize"
