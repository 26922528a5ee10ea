"""The snapshot a job builds on: a verified local copy, read for carry-over.

Copies live under `<cache>/ingest/<source>/<version>`. On Cloud Run that folder is the
instance's in-memory `/tmp`, so every copy kept counts against the memory limit: the worker
keeps one copy in all (and those still open): the one last used (a job's finalize reads its
base again) or, once a finalize has uploaded, the version it built (the next job's base; kept
even if the swap then fails, until the next job). A finalize drops its base copy once the
unchanged files are read, before it builds. One cache
folder belongs to one worker process; the open copies are counted in that process.
"""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from thoth.bucket.snapshot import Snapshot, SnapshotManifest, open_snapshot
from thoth.bucket.store import BlobStore
from thoth.bucket.versions import PARTIAL_SUFFIX, local_copy
from thoth.config import Settings
from thoth.ingest.chunking import CHUNKS_VERSION

_lock = threading.Lock()
_open: Counter[Path] = Counter()  # copies being downloaded or read, by folder
_fetching: dict[Path, threading.Lock] = {}  # one download of a copy at a time


def copies_root(cache_dir: Path) -> Path:
    return Path(cache_dir) / "ingest"


@contextmanager
def local_snapshot(
    store: BlobStore, cache_dir: Path, source: str, version: str
) -> Iterator[Snapshot]:
    """The version's local copy, open for the `with` block; afterwards every other copy,
    of any source, that nothing holds is deleted (not when this copy could not be had: the
    last good one stays)."""
    root = copies_root(cache_dir)
    copy = root / source / version
    with _lock:
        _open[copy] += 1
        fetching = _fetching.setdefault(copy, threading.Lock())
    fetched = False
    try:
        # Two deliveries wanting one missing copy (a cancelled job's finalize beside the next
        # plan) would download into the same `.partial` folder: the second waits, then finds
        # the first's verified copy.
        with fetching:
            path = local_copy(store, source, version, root)
        fetched = True
        yield open_snapshot(path)
    finally:
        with _lock:
            _open[copy] -= 1
            if not _open[copy]:
                del _open[copy], _fetching[copy]
            for folder in _source_folders(root) if fetched else []:
                _prune(folder, keep=copy)
                _drop_if_empty(folder)


def adopt_copy(cache_dir: Path, source: str, version: str, built: Path) -> None:
    """Keep a snapshot this worker built and uploaded as its copy of that version (the next
    job of the source builds on it: no download), in place of every other copy nothing
    holds."""
    root = copies_root(cache_dir)
    copy = root / source / version
    with _lock:
        if copy in _open:  # being downloaded by another delivery: theirs stands
            return
        try:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(copy, ignore_errors=True)
            built.rename(copy)
        except OSError:  # a copy saves a download; the upload it follows stands anyway
            return
        for folder in _source_folders(root):
            _prune(folder, keep=copy)
            _drop_if_empty(folder)


def forget_source(cache_dir: Path, source: str) -> None:
    """Delete the source's copies but those still open (pruned when they close): a removed
    source's, or the base a finalize has read into memory."""
    folder = copies_root(cache_dir) / source
    with _lock:
        _prune(folder, keep=None)
        _drop_if_empty(folder)


def _source_folders(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []


def _drop_if_empty(folder: Path) -> None:
    """Called with the lock held. A download (which takes no lock) may fill the folder at any
    moment: then it stays, and a download that finds it gone creates it again."""
    with suppress(OSError):
        folder.rmdir()


def _prune(folder: Path, keep: Path | None) -> None:
    """Called with the lock held. A `.partial` folder goes unless its download is running,
    also one of `keep` (left by a download that failed)."""
    for child in folder.iterdir() if folder.is_dir() else []:
        copy = child.with_name(child.name.removesuffix(PARTIAL_SUFFIX))
        kept = copy == keep and not child.name.endswith(PARTIAL_SUFFIX)
        if child.is_dir() and not kept and copy not in _open:
            shutil.rmtree(child, ignore_errors=True)


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
