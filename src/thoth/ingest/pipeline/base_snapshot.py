"""The snapshot a job builds on: a verified local copy, read for carry-over."""

from __future__ import annotations

from pathlib import Path

from thoth.bucket.snapshot import Snapshot, SnapshotManifest, open_snapshot
from thoth.bucket.store import BlobStore
from thoth.bucket.versions import local_copy
from thoth.config import Settings
from thoth.ingest.chunking import CHUNKS_VERSION


def local_snapshot(store: BlobStore, cache_dir: Path, source: str, version: str) -> Snapshot:
    return open_snapshot(local_copy(store, source, version, Path(cache_dir) / "ingest"))


def reusable(manifest: SnapshotManifest, settings: Settings) -> bool:
    """Whether the snapshot's chunks were cut and embedded as they would be now (model,
    encoder variant, chunking settings and code): only then may its unchanged files be
    carried over as they are."""
    return (manifest.model, manifest.variant, manifest.chunking) == (
        settings.embedding_model,
        settings.embedding_variant,
        chunking_signature(settings),
    )


def chunking_signature(settings: Settings) -> str:
    """How this worker cuts chunks, as a snapshot records it: the chunking settings and the
    version of the parsing and chunking code."""
    return f"{settings.chunking_signature()} code={CHUNKS_VERSION}"
