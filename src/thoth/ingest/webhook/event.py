"""A GitLab Push Hook: the delivery headers and the part of the payload the receiver reads
(GitLab's "Push events" payload; other fields are ignored)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

EVENT_HEADER = "X-Gitlab-Event"
TOKEN_HEADER = "X-Gitlab-Token"  # noqa: S105 (a header name)
EVENT_UUID_HEADER = "X-Gitlab-Event-UUID"
WEBHOOK_UUID_HEADER = "X-Gitlab-Webhook-UUID"
INSTANCE_HEADER = "X-Gitlab-Instance"
IDEMPOTENCY_HEADER = "Idempotency-Key"  # the same on a resend; the two UUIDs are new
PUSH_EVENT = "Push Hook"
ZERO_SHA = "0" * 40  # `before` of a new branch, `after` of a deleted one
BRANCH_PREFIX = "refs/heads/"
TAG_PREFIX = "refs/tags/"


class HookProject(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: int | None = None
    path_with_namespace: str | None = None


class PushHook(BaseModel):
    """The fields of a push event that decide what the receiver does."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    object_kind: str
    before: str = Field(pattern=r"^[0-9a-f]{40}$")
    after: str = Field(pattern=r"^[0-9a-f]{40}$")
    ref: str = Field(min_length=1, max_length=1024)
    checkout_sha: str | None = None
    project_id: int | None = None
    project: HookProject = Field(default_factory=HookProject)
    total_commits_count: int = Field(0, ge=0)
