"""The snapshot a job builds on: downloaded once into the local cache, read for carry-over."""

from __future__ import annotations

from pathlib import Path

from thoth.index.snapshot import Snapshot, open_snapshot
from thoth.index.versions import download_version
from thoth.ingestion.context import Context


def local_snapshot(ctx: Context, source: str, version: str) -> Snapshot:
    directory = Path(ctx.settings.cache_dir) / "ingest" / source / version
    if not directory.is_dir():
        directory.parent.mkdir(parents=True, exist_ok=True)
        download_version(ctx.store, source, version, directory)
    return open_snapshot(directory)
