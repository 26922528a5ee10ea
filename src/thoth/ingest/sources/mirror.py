"""The bucket side of a sync: the mirror under `sources/<name>/`, written in parallel."""

from __future__ import annotations

import base64
import hashlib
import logging
import mimetypes
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Literal

from thoth.bucket.keys import source_key, source_prefix
from thoth.bucket.store import BlobStore, StoredObject
from thoth.ingest.sources.report import FileError, SyncReport

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 8  # GCS latency dominates; a few threads hide it
Progress = Callable[[int, int], None]
# "rejected": deliberately not mirrored (e.g. too large), so a stale copy is deleted;
# "error": failed (e.g. a download), so the previous copy stays and the next sync retries.
Status = Literal["added", "changed", "unchanged", "deleted", "rejected", "error"]
_TEXT_TYPES = {".md": "text/markdown", ".markdown": "text/markdown", ".txt": "text/plain"}


@dataclass(frozen=True)
class Outcome:
    """What happened to one path."""

    path: str
    status: Status
    message: str = ""


Job = Callable[[], Outcome]


def md5_base64(data: bytes) -> str:
    """The MD5 of `data` as GCS reports it (base64 of the digest)."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def mirrored(store: BlobStore, source: str) -> dict[str, StoredObject]:
    """The source's mirrored objects by relative path."""
    prefix = source_prefix(source)
    return {obj.key.removeprefix(prefix): obj for obj in store.list_objects(prefix)}


def write_file(store: BlobStore, source: str, path: str, data: bytes, *, existed: bool) -> Outcome:
    store.write(source_key(source, path), data, content_type=content_type(path))
    return Outcome(path, "changed" if existed else "added")


def delete_file(store: BlobStore, source: str, path: str) -> Outcome:
    store.delete(source_key(source, path))
    return Outcome(path, "deleted")


def content_type(path: str) -> str:
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if suffix in _TEXT_TYPES:
        return _TEXT_TYPES[suffix]
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def run_jobs(jobs: list[tuple[str, Job]], workers: int, progress: Progress | None) -> list[Outcome]:
    """Run (path, job) pairs on a small thread pool. A job that raises becomes an error
    outcome for its path: one bad file never stops the sync."""
    outcomes: list[Outcome] = []
    if progress:
        progress(0, len(jobs))
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="sync") as pool:
        futures = {pool.submit(job): path for path, job in jobs}
        for future in as_completed(futures):
            outcomes.append(_outcome(futures[future], future.result, future.exception()))
            if progress:
                progress(len(outcomes), len(jobs))
    return outcomes


def _outcome(path: str, result: Callable[[], Outcome], error: BaseException | None) -> Outcome:
    if error is None:
        return result()
    log.warning("sync of %s failed: %s: %s", path, type(error).__name__, error)
    return Outcome(path, "error", f"{type(error).__name__}: {error}")


def record(report: SyncReport, outcomes: list[Outcome]) -> None:
    """Add outcomes to the report."""
    for outcome in outcomes:
        if outcome.status == "error" or outcome.status == "rejected":
            retry = outcome.status == "error"
            report.errors.append(FileError(path=outcome.path, message=outcome.message, retry=retry))
        else:
            report.count(outcome.status, outcome.path)
