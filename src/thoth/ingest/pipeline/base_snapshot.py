"""The snapshot a job builds on: a verified local copy, read for carry-over."""

from __future__ import annotations

from pathlib import Path

from thoth.bucket.snapshot import Snapshot, SnapshotManifest, open_snapshot
from thoth.bucket.store import BlobStore
from thoth.bucket.versions import local_copy
from thoth.config import Settings


def local_snapshot(store: BlobStore, cache_dir: Path, source: str, version: str) -> Snapshot:
    return open_snapshot(local_copy(store, source, version, Path(cache_dir) / "ingest"))


def reusable(manifest: SnapshotManifest, settings: Settings) -> bool:
    """Whether the snapshot's chunks were cut and embedded as configured now (model, encoder
    variant, chunking): only then may its unchanged files be carried over as they are."""
    return (manifest.model, manifest.variant, manifest.chunking) == (
        settings.embedding_model,
        settings.embedding_variant,
        settings.chunking_signature(),
    )
