"""The snapshot a job builds on: a verified local copy, read for carry-over."""

from __future__ import annotations

from pathlib import Path

from thoth.bucket.snapshot import Snapshot, open_snapshot
from thoth.bucket.store import BlobStore
from thoth.bucket.versions import local_copy


def local_snapshot(store: BlobStore, cache_dir: Path, source: str, version: str) -> Snapshot:
    return open_snapshot(local_copy(store, source, version, Path(cache_dir) / "ingest"))
