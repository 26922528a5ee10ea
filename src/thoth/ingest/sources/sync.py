"""Mirror a source into the bucket at `sources/<name>/<path>`.

- dir: a file is unchanged when its MD5 equals the mirrored object's.
- gitlab: at one commit (given, or the ref's head); only files GitLab's compare reports as
  changed since the last synced commit are downloaded, or, when compare cannot be used
  (gitlab_changes), the files whose blob id changed in the tree.
- upload: nothing to fetch; the report lists what is there, all unchanged.
Files gone upstream are deleted from the mirror. Files over `max_file_bytes` are not
mirrored (a stale copy is removed) and reported; other per-file failures are reported and
leave the previous copy in place, to be retried by the next sync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sized
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from thoth.bucket.store import BlobStore, StoredObject
from thoth.config import Settings, get_settings
from thoth.errors import InvalidInputError
from thoth.ingest.sources.directory import LocalFile, list_directory
from thoth.ingest.sources.gitlab import (
    Compare,
    FileChange,
    FileTooLargeError,
    GitLabClient,
    LfsObjectUnavailable,
    TreeEntry,
)
from thoth.ingest.sources.gitlab_changes import Listing, changes_since, git_blob_id
from thoth.ingest.sources.lfs import lfs_pointer
from thoth.ingest.sources.mirror import (
    DEFAULT_WORKERS,
    Job,
    Outcome,
    Progress,
    delete_file,
    md5_base64,
    mirrored,
    record,
    run_jobs,
    write_file,
)
from thoth.ingest.sources.models import SourceConfig, validate_source_name
from thoth.ingest.sources.report import FileError, SyncReport
from thoth.ingest.sources.roots import allowed_folder
from thoth.ingest.sources.sync_state import SyncState, load_state, origin_of, save_state
from thoth.paths import UnsafePathError, safe_relative_path
from thoth.secrets import secret_value

__all__ = ["EmptySourceError", "SyncReport", "gitlab_client", "sync_source", "upload_directory"]

log = logging.getLogger(__name__)


def sync_source(
    store: BlobStore,
    config: SourceConfig,
    *,
    settings: Settings,
    gitlab: GitLabClient | None = None,
    progress: Progress | None = None,
    full: bool = False,
    workers: int = DEFAULT_WORKERS,
    commit: str | None = None,
) -> SyncReport:
    """Bring the mirror of `config` up to date (a GitLab source: to `commit`, else to its
    ref's head). `full` re-fetches every file.
    Raises EmptySourceError rather than empty a mirror because the source lists no files."""
    started = time.monotonic()
    if config.kind == "dir":
        assert config.directory is not None  # the model's validator guarantees it
        directory = allowed_folder(config.directory, settings.source_roots)
        report = _sync_directory(
            store, config.name, directory, settings.max_file_bytes, progress, full, workers
        )
    elif config.kind == "gitlab":
        client = gitlab or gitlab_client(settings)
        try:
            fetch = _Fetch(store, config, client, settings.max_file_bytes, workers, progress)
            report = _sync_gitlab(fetch, full, commit)
        finally:
            if gitlab is None:
                client.close()
    else:
        report = _uploaded(store, config.name)
    return _finish(report, started)


def upload_directory(
    store: BlobStore,
    source_name: str,
    directory: Path | str,
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
    workers: int = DEFAULT_WORKERS,
) -> SyncReport:
    """Mirror a local folder into source `source_name` (any kind): a dir sync, so files
    missing from the folder are deleted from the mirror."""
    started = time.monotonic()
    max_bytes = (settings or get_settings()).max_file_bytes
    name = validate_source_name(source_name)
    report = _sync_directory(store, name, Path(directory), max_bytes, progress, False, workers)
    return _finish(report, started)


def gitlab_client(settings: Settings) -> GitLabClient:
    """A client for `settings.gitlab_url`, with the token from the settings or from
    Secret Manager `gitlab-token` (none: anonymous, enough for public projects)."""
    token = secret_value(settings.gitlab_token, "gitlab-token", settings.project)
    return GitLabClient(settings.gitlab_url, token)


def _finish(report: SyncReport, started: float) -> SyncReport:
    report.seconds = round(time.monotonic() - started, 3)
    report.sort()
    log.info("sync %s", report.summary())
    return report


# --- dir ----------------------------------------------------------------------------------
def _sync_directory(
    store: BlobStore,
    source: str,
    directory: Path,
    max_bytes: int,
    progress: Progress | None,
    full: bool,
    workers: int,
) -> SyncReport:
    listing = list_directory(directory)
    report = SyncReport(source=source, errors=list(listing.errors))
    mirror = mirrored(store, source)
    _refuse_to_empty(source, listing.files, mirror, f"folder {str(directory)!r}")
    files = _within_limit(listing.files, max_bytes, report)
    jobs: list[tuple[str, Job]] = []
    for file in files:
        existing = None if full else mirror.get(file.path)
        job = partial(_mirror_local, store, source, file, existing, file.path in mirror)
        jobs.append((file.path, job))
    jobs += _deletions(store, source, mirror, {file.path for file in files})
    record(report, run_jobs(jobs, workers, progress))
    return report


def _within_limit(files: list[LocalFile], max_bytes: int, report: SyncReport) -> list[LocalFile]:
    for file in files:
        if file.size > max_bytes:
            message = _too_large(file.size, max_bytes)
            report.errors.append(FileError(path=file.path, message=message))
    return [file for file in files if file.size <= max_bytes]


def _mirror_local(
    store: BlobStore, source: str, file: LocalFile, existing: StoredObject | None, existed: bool
) -> Outcome:
    data = file.read()
    if existing is not None and existing.md5 == md5_base64(data):
        return Outcome(file.path, "unchanged")
    return write_file(store, source, file.path, data, existed=existed)


# --- gitlab -------------------------------------------------------------------------------
@dataclass
class _Fetch:
    """What a GitLab sync works with; `blob_ids` collects the ids of files it fetched."""

    store: BlobStore
    config: SourceConfig
    client: GitLabClient
    max_bytes: int
    workers: int
    progress: Progress | None
    blob_ids: dict[str, str] = field(default_factory=dict)
    # Files whose content could not be read this time (an LFS object), by git blob id.
    unfetched: dict[str, str] = field(default_factory=dict)

    @property
    def project(self) -> str:
        assert self.config.gitlab_project is not None  # the model's validator guarantees it
        return self.config.gitlab_project


def _sync_gitlab(fetch: _Fetch, full: bool, commit: str | None) -> SyncReport:
    config, client = fetch.config, fetch.client
    previous, generation = load_state(fetch.store, config)
    target = commit or client.commit_id(fetch.project, config.gitlab_ref)
    web_url = client.web_url(fetch.project)
    changes = (
        Listing("a full sync")
        if full
        else changes_since(client, fetch.project, previous.commit, target)
    )
    missing = set(previous.blobs) - set(mirrored(fetch.store, config.name))
    if isinstance(changes, Compare) and missing:
        changes = Listing(f"{len(missing)} file(s) of the last sync are missing from the mirror")
    if isinstance(changes, Compare):
        report, state = _apply_changes(fetch, changes.changes, previous, target)
        report.changes_from = f"compare since {previous.commit}"
    else:
        report, state = _sync_tree(fetch, previous, target, full)
        report.changes_from = f"listing ({changes.reason})"
    report.commit, report.web_url = target, web_url
    save_state(fetch.store, config, state.model_copy(update={"web_url": web_url}), generation)
    return report


def _sync_tree(
    fetch: _Fetch, previous: SyncState, target: str, full: bool
) -> tuple[SyncReport, SyncState]:
    store, config = fetch.store, fetch.config
    tree = fetch.client.list_tree(fetch.project, target, config.path_prefix)
    report = SyncReport(source=config.name, errors=list(tree.rejected))
    upstream = _relative_entries(tree.entries, config.path_prefix, report)
    mirror = mirrored(store, config.name)
    _refuse_to_empty(config.name, upstream, mirror, f"GitLab {origin_of(config)}")
    jobs: list[tuple[str, Job]] = []
    for path, blob_id in upstream.items():
        if not full and previous.blobs.get(path) == blob_id and path in mirror:
            jobs.append((path, partial(Outcome, path, "unchanged")))
        else:
            get = partial(fetch.client.get_file, fetch.project, blob_id, max_bytes=fetch.max_bytes)
            at = (f"{config.path_prefix}/{path}" if config.path_prefix else path, target)
            fetch_one = partial(_fetch_file, fetch, path, get, at, existed=path in mirror)
            jobs.append((path, fetch_one))
    outcomes = run_jobs(jobs, fetch.workers, fetch.progress)
    keep = set(upstream) - {o.path for o in outcomes if o.status == "rejected"}
    outcomes += run_jobs(_deletions(store, config.name, mirror, keep), fetch.workers, None)
    record(report, outcomes)
    blobs = _next_state(upstream, previous.blobs, outcomes) | fetch.unfetched
    # A file that failed keeps its old copy: only a listing can tell the next sync to retry it.
    complete = not any(o.status == "error" for o in outcomes)
    return report, SyncState(blobs=blobs, commit=target if complete else None)


def _apply_changes(
    fetch: _Fetch, changes: list[FileChange], previous: SyncState, target: str
) -> tuple[SyncReport, SyncState]:
    """Mirror only the files compare reported: delete removed and renamed-away paths, fetch
    added, modified and renamed-to paths at `target`."""
    store, config = fetch.store, fetch.config
    report = SyncReport(source=config.name)
    mirror = mirrored(store, config.name)
    gone: dict[str, Job] = {}
    wanted: dict[str, Job] = {}
    for change in changes:
        old = _relative(change.old_path, config.path_prefix, report)
        new = _relative(change.new_path, config.path_prefix, report)
        if (change.deleted_file or change.renamed_file) and old in mirror and old is not None:
            gone[old] = partial(delete_file, store, config.name, old)
        if not change.deleted_file and new is not None:
            get = partial(
                fetch.client.get_file_at,
                fetch.project,
                change.new_path,
                target,
                max_bytes=fetch.max_bytes,
            )
            at = (change.new_path, target)
            wanted[new] = partial(_fetch_file, fetch, new, get, at, existed=new in mirror)
    deletions = [(path, job) for path, job in gone.items() if path not in wanted]
    outcomes = run_jobs([*wanted.items(), *deletions], fetch.workers, fetch.progress)
    stale = [o.path for o in outcomes if o.status == "rejected" and o.path in mirror]
    outcomes += run_jobs(_deletions(store, config.name, mirror, set(mirror) - set(stale)), 1, None)
    record(report, outcomes)
    blobs = dict(previous.blobs)
    for outcome in outcomes:
        if outcome.status in ("deleted", "rejected"):
            blobs.pop(outcome.path, None)
        elif outcome.path in fetch.blob_ids:
            blobs[outcome.path] = fetch.blob_ids[outcome.path]
    blobs |= fetch.unfetched
    # On a failed file the mirror stays at the old commit, so the next compare covers it.
    complete = not any(o.status == "error" for o in outcomes)
    return report, SyncState(blobs=blobs, commit=target if complete else previous.commit)


def _relative(path: str, prefix: str, report: SyncReport) -> str | None:
    """`path` relative to the source's prefix; None outside it (or unsafe, reported)."""
    if prefix and not path.startswith(f"{prefix}/"):
        return None
    try:
        return safe_relative_path(path.removeprefix(f"{prefix}/") if prefix else path)
    except UnsafePathError as exc:
        report.errors.append(FileError(path=path, message=str(exc)))
        return None


def _relative_entries(entries: list[TreeEntry], prefix: str, report: SyncReport) -> dict[str, str]:
    """Blob ids by path relative to the source's path prefix."""
    upstream: dict[str, str] = {}
    for entry in entries:
        relative = entry.path.removeprefix(f"{prefix}/") if prefix else entry.path
        try:
            if prefix and relative == entry.path:
                raise UnsafePathError(entry.path, f"outside the path prefix {prefix!r}")
            upstream[safe_relative_path(relative)] = entry.blob_id
        except UnsafePathError as exc:
            report.errors.append(FileError(path=entry.path, message=str(exc)))
    return upstream


def _fetch_file(
    fetch: _Fetch, path: str, get: partial[bytes], at: tuple[str, str], *, existed: bool
) -> Outcome:
    """Mirror one file, `get` reading its git blob; `at` is its repository path and commit,
    where a Git LFS pointer's object is read. The blob id recorded is git's (the pointer's),
    which the next listing compares."""
    try:
        data = get()
        blob_id = git_blob_id(data)
        pointer = lfs_pointer(data)
        if pointer is not None:
            data = fetch.client.get_lfs_file(fetch.project, *at, pointer, max_bytes=fetch.max_bytes)
    except FileTooLargeError:
        return Outcome(path, "rejected", _too_large(None, fetch.max_bytes))
    except LfsObjectUnavailable as exc:
        # Not mirrored, yet kept in the sync state: a file of the state that the mirror lacks
        # makes the next sync list the tree and fetch it again, so an object pushed (or
        # imported) after its pointer is picked up without a new commit.
        fetch.unfetched[path] = blob_id
        return Outcome(path, "rejected", str(exc))
    fetch.blob_ids[path] = blob_id
    return write_file(fetch.store, fetch.config.name, path, data, existed=existed)


def _next_state(
    upstream: dict[str, str], previous: dict[str, str], outcomes: list[Outcome]
) -> dict[str, str]:
    """Mirrored blob ids: new ids for mirrored files, old ids for files that failed (so
    the next sync retries them)."""
    failed = {o.path for o in outcomes if o.status in ("error", "rejected")}
    state = {path: blob for path, blob in upstream.items() if path not in failed}
    state |= {path: previous[path] for path in failed if path in previous}
    return state


# --- shared -------------------------------------------------------------------------------
class EmptySourceError(RuntimeError, InvalidInputError):
    """The source lists no files while its mirror has some: most likely a wrong folder,
    ref or path prefix, so the mirror is left alone."""


def _refuse_to_empty(
    source: str, upstream: Sized, mirror: dict[str, StoredObject], where: str
) -> None:
    if len(upstream) == 0 and mirror:
        raise EmptySourceError(
            f"{where} lists no files, but the mirror of source {source!r} has {len(mirror)}; "
            "refusing to delete them all: check the folder, ref or path_prefix "
            "(delete the source to empty it on purpose)"
        )


def _deletions(
    store: BlobStore, source: str, mirror: dict[str, StoredObject], keep: set[str]
) -> list[tuple[str, Job]]:
    gone = sorted(set(mirror) - keep)
    return [(path, partial(delete_file, store, source, path)) for path in gone]


def _uploaded(store: BlobStore, source: str) -> SyncReport:
    return SyncReport(source=source, unchanged=len(mirrored(store, source)))


def _too_large(size: int | None, max_bytes: int) -> str:
    shown = f"{size} bytes" if size is not None else "larger"
    return f"too large: {shown}, over max_file_bytes={max_bytes}; not mirrored"
