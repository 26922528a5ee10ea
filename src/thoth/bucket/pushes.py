"""The latest push known for a source: `registry/pushes/<source>.json`.

The worker records every push it is handed; the MCP server reads the record to say how far
an index is behind. Pushes may arrive late, twice, or out of order: Cloud Tasks retries,
GitLab sends each event from its own background job (no order between them) and a resend
carries a new event UUID. So the commit recorded is the branch head the worker read from
GitLab when the push reached it (`seen_at`), never the commit a delivery names, and the
record only moves to a head read later than its own, written by compare-and-swap so two
deliveries cannot both win.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from thoth.bucket.keys import latest_push_key
from thoth.bucket.store import BlobStore, NotFound, PreconditionFailed

_ATTEMPTS = 5


class LatestPush(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str
    commit: str
    ref: str
    event_uuid: str
    pushed_at: datetime  # when the receiver accepted the event that led here
    seen_at: datetime | None = None  # when `commit` was read from GitLab as the head (None:
    # a record written before heads were read; it orders by pushed_at)

    @property
    def order(self) -> datetime:
        return self.seen_at or self.pushed_at


def read_push(store: BlobStore, source: str) -> tuple[LatestPush | None, int]:
    """The recorded push and the object's generation (0 when there is none)."""
    try:
        data, generation = store.read(latest_push_key(source))
    except NotFound:
        return None, 0
    return LatestPush.model_validate_json(data), generation


def record_push(store: BlobStore, push: LatestPush) -> bool:
    """Make `push` the source's latest unless the record already holds its commit or one
    read later. True when it was recorded."""
    for _ in range(_ATTEMPTS):
        current, generation = read_push(store, push.source)
        if current is not None and not _newer(push, current):
            return False
        try:
            store.write(
                latest_push_key(push.source),
                push.model_dump_json().encode(),
                if_generation=generation,
                content_type="application/json",
            )
            return True
        except PreconditionFailed:
            continue  # another delivery wrote first: compare with what it wrote
    raise PreconditionFailed(f"the latest push of {push.source} kept changing")


def _newer(push: LatestPush, current: LatestPush) -> bool:
    return push.commit != current.commit and push.order > current.order
