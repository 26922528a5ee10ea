"""The latest push known for a source: `registry/pushes/<source>.json`.

The worker records every push it is handed; the MCP server reads the record to say how far
an index is behind. Pushes may arrive late, twice, or out of order (Cloud Tasks retries,
GitLab resends), so the record only ever moves forward: a push is kept when it was accepted
after the recorded one, written by compare-and-swap so two deliveries cannot both win.
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
    pushed_at: datetime


def read_push(store: BlobStore, source: str) -> tuple[LatestPush | None, int]:
    """The recorded push and the object's generation (0 when there is none)."""
    try:
        data, generation = store.read(latest_push_key(source))
    except NotFound:
        return None, 0
    return LatestPush.model_validate_json(data), generation


def record_push(store: BlobStore, push: LatestPush) -> bool:
    """Make `push` the source's latest unless the record already holds it or a later one.
    True when it was recorded."""
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
    return push.event_uuid != current.event_uuid and push.pushed_at > current.pushed_at
