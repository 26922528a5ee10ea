"""A push to a source's repository, as the webhook receiver hands it to the worker.

The receiver (public, verifies GitLab's secret token) turns one GitLab "Push Hook" into one
Cloud Task to the private worker's PUSH_PATH with a `PushTask` body. The task is named after
the delivery's Idempotency-Key (or the event's UUID), so a redelivered webhook enqueues
nothing new while Cloud Tasks remembers the name. The worker then reads the branch's head
from GitLab, records it as the source's latest known commit and starts, or schedules after
the running job, an incremental ingest at it.
"""

from __future__ import annotations

import hashlib

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from thoth.ingest.sources.models import SOURCE_PATTERN

PUSH_PATH = "/tasks/push"
COMMIT_PATTERN = r"^[0-9a-f]{40}$"
# GitLab's event UUIDs and Idempotency-Keys, and what a task name is derived from.
DELIVERY_ID_PATTERN = r"^[0-9A-Za-z-]{1,64}$"


class PushTask(BaseModel):
    """One push to the source's tracked ref, validated on both sides of the queue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(pattern=SOURCE_PATTERN, description="The Thoth source the push feeds.")
    commit: str = Field(pattern=COMMIT_PATTERN, description="The ref's commit after the push.")
    before: str | None = Field(
        None, pattern=COMMIT_PATTERN, description="The ref's commit before it (none if new)."
    )
    ref: str = Field(min_length=1, max_length=255, description="The pushed ref, refs/heads/...")
    event_uuid: str = Field(pattern=DELIVERY_ID_PATTERN, description="X-Gitlab-Event-UUID.")
    pushed_at: AwareDatetime = Field(description="When the receiver accepted the event.")


def push_task_name(delivery_key: str) -> str:
    """The Cloud Task name for a delivery key: deterministic, so a redelivery is refused."""
    digest = hashlib.sha256(delivery_key.encode()).hexdigest()[:32]
    return f"push-{digest}"
