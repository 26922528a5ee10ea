"""The snapshot a job builds on: a verified local copy, read for carry-over."""

from __future__ import annotations

from pathlib import Path

from thoth.bucket.snapshot import Snapshot, SnapshotManifest, open_snapshot
from thoth.bucket.store import BlobStore
from thoth.bucket.versions import local_copy
from thoth.config import Settings


def local_snapshot(store: BlobStore, cache_dir: Path, source: str, version: str) -> Snapshot:
    return open_snapshot(local_copy(store, source, version, Path(cache_dir) / "ingest"))


def same_encoder(manifest: SnapshotManifest, settings: Settings) -> bool:
    """Whether the snapshot's vectors came from the model and variant configured now: only
    then may its unchanged files be carried over without embedding them again."""
    return (manifest.model, manifest.variant) == (
        settings.embedding_model,
        settings.embedding_variant,
    )
