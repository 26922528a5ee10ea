"""The per-source pointer to the current snapshot, swapped by compare-and-swap (design.md §2)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from thoth.bucket.keys import pointer_key
from thoth.bucket.store import BlobStore, NotFound


class Pointer(BaseModel):
    """What `indexes/<source>/current.json` says."""

    source: str
    version: str
    documents: int = Field(ge=0)
    chunks: int = Field(ge=0)
    indexed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    job_id: str | None = None
    previous: str | None = None
    commit: str | None = None  # the source's commit the version was built from (GitLab)
    # How the version's citations link (thoth.ingest.pipeline.citations.links); None: unknown.
    links: str | None = None


def read_pointer(store: BlobStore, source: str) -> tuple[Pointer | None, int]:
    """The current pointer and its generation (0 when there is none yet)."""
    try:
        data, generation = store.read(pointer_key(source))
    except NotFound:
        return None, 0
    return Pointer.model_validate_json(data), generation


def swap_pointer(store: BlobStore, pointer: Pointer, expected_generation: int) -> int:
    """Point the source at a new version, only if nobody moved it since `expected_generation`.
    Raises PreconditionFailed when another writer won."""
    return store.write(
        pointer_key(pointer.source),
        pointer.model_dump_json().encode(),
        if_generation=expected_generation,
        content_type="application/json",
    )
