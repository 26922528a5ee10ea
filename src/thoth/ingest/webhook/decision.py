"""One authenticated event and the receiver's target -> the push task to enqueue, or why
the event is ignored.

Every event GitLab may legitimately send is answered 2xx, enqueued or ignored: GitLab counts
any 4xx or 5xx as a failure and disables a hook after four in a row, which would silence the
pushes that matter because of a tag, another branch or another event type the hook was also
set up for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from thoth.ingest.push import PushTask
from thoth.ingest.webhook.event import PUSH_EVENT, TAG_PREFIX, ZERO_SHA, PushHook
from thoth.ingest.webhook.target import Target


@dataclass(frozen=True)
class Ignored:
    reason: str


def ignored_event(event_name: str | None) -> Ignored | None:
    """Events other than branch pushes are ignored before their body is parsed."""
    if event_name == PUSH_EVENT:
        return None
    return Ignored(f"event {(event_name or 'none')[:60]!r} is not a push")


def decide(hook: PushHook, target: Target, event_uuid: str, now: datetime) -> PushTask | Ignored:
    if hook.object_kind != "push":
        return Ignored(f"object_kind {hook.object_kind[:60]!r} is not push")
    if not target.project_matches(hook):
        return Ignored("another project")
    if hook.ref.startswith(TAG_PREFIX):
        return Ignored("a tag push")
    if hook.ref != target.ref:
        return Ignored("another branch")
    if hook.after == ZERO_SHA:
        # Nothing to index at a deleted branch; the index keeps the last pushed commit.
        return Ignored("the branch was deleted")
    return PushTask(
        source=target.source,
        commit=hook.after,
        before=None if hook.before == ZERO_SHA else hook.before,
        ref=hook.ref,
        event_uuid=event_uuid,
        pushed_at=now,
    )
