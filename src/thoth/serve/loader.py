"""Keep the newest published snapshot of every source loaded for serving (design.md §2).

For each source under `indexes/`, the cache reads the pointer; when it names a version that is
not loaded, it downloads `indexes/<source>/versions/<version>/` into
`<cache_dir>/<source>/<version>.partial/`, checks every file against the manifest, renames the
folder to `<version>/`, builds the search state (vectors into memory) off the serving path,
and then swaps one reference. Readers take `cache.indexes` once per request and never see a
half-loaded index. Until a new version is complete the old one keeps serving; when the store
is unreachable or a download fails, the last good index keeps serving and the error is kept
for `/ready`. A version already on local disk (cold start on a warm disk) is loaded without
downloading. Local versions other than the current one and those a request still holds are
deleted, at each poll that reaches the store (on Cloud Run the copies are memory: a 50,000-chunk
copy is ~150 MB). A source whose pointer is gone
(`thoth sources remove`) stops being served, and its local copies go the same way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import shutil
import threading
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from pydantic import BaseModel

from thoth.bucket.keys import SNAPSHOT_MANIFEST
from thoth.bucket.pointer import read_pointer
from thoth.bucket.pushes import LatestPush, read_push
from thoth.bucket.snapshot import SnapshotError, open_snapshot
from thoth.bucket.store import BlobStore
from thoth.bucket.versions import PARTIAL_SUFFIX, indexed_sources, local_copy
from thoth.config import Settings
from thoth.serve.search.source_index import SourceIndex

log = logging.getLogger(__name__)

STORE = "*"  # key of errors that concern the store as a whole


class LoadedSource(BaseModel):
    source: str
    version: str
    model: str
    documents: int
    chunks: int
    indexed_at: datetime
    loaded_at: datetime


class CacheStatus(BaseModel):
    """What /ready reports."""

    ready: bool
    sources: list[LoadedSource]
    errors: dict[str, str]
    last_refresh: datetime | None


class IndexCache:
    """The loaded indexes, refreshed from the bucket."""

    def __init__(self, settings: Settings, store: BlobStore | None = None) -> None:
        self.settings = settings
        self._store = store
        self.cache_dir = Path(settings.cache_dir)
        self._indexes: Mapping[str, SourceIndex] = MappingProxyType({})
        self._pushes: Mapping[str, LatestPush] = MappingProxyType({})
        self._loaded_at: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._errors: dict[str, str] = {}
        self._last_refresh: datetime | None = None
        self._first_refresh_done = threading.Event()
        self._pending: concurrent.futures.Future[bool] | None = None
        self._task: asyncio.Task[None] | None = None
        # Every version some reader may still hold (a request keeps the mapping it began with
        # and reads rows from disk): its folder is not deleted until the last holder is gone.
        self._held: weakref.WeakValueDictionary[tuple[str, str], SourceIndex] = (
            weakref.WeakValueDictionary()
        )
        self._keep: dict[str, set[str]] = {}  # by source: the version it serves
        # By source: a version that downloaded but failed to load, and why. Not loaded again
        # (each attempt reads the whole index) until the pointer names another version.
        self._failed: dict[str, tuple[str, str]] = {}

    # --- what readers use -----------------------------------------------------------
    @property
    def indexes(self) -> Mapping[str, SourceIndex]:
        """The current indexes by source: an immutable mapping, replaced whole on change."""
        return self._indexes

    @property
    def pushes(self) -> Mapping[str, LatestPush]:
        """The latest push known for each source, as of the last refresh."""
        return self._pushes

    def status(self) -> CacheStatus:
        indexes = self._indexes
        return CacheStatus(
            ready=bool(indexes),
            sources=[
                LoadedSource(
                    source=name,
                    version=index.version,
                    model=index.manifest.model,
                    documents=index.manifest.documents,
                    chunks=index.manifest.chunks,
                    indexed_at=index.indexed_at,
                    loaded_at=self._loaded_at.get(name, index.indexed_at),
                )
                for name, index in sorted(indexes.items())
            ],
            errors=dict(self._errors),
            last_refresh=self._last_refresh,
        )

    @property
    def store(self) -> BlobStore:
        if self._store is None:
            self._store = BlobStore.from_settings(self.settings)
        return self._store

    # --- refreshing -----------------------------------------------------------------
    @property
    def first_refresh_done(self) -> bool:
        """Whether the first look at the store has ended (loaded, found nothing, or failed
        and recorded why): what a startup probe waits for."""
        return self._first_refresh_done.is_set()

    def refresh(self) -> bool:
        """Check every source's pointer once and load what changed (blocking). Returns True
        when any source now serves a different version. Never raises for store or snapshot
        failures: they are recorded in `status().errors` and the last good index stays."""
        try:
            return self._refresh()
        finally:
            self._first_refresh_done.set()

    def load_local_copies(self, reason: str) -> bool:
        """Serve the newest complete local copy of each source without asking the store,
        known to be out of reach for `reason` (recorded as the store's error)."""
        with self._lock:
            self._errors[STORE] = reason
            try:
                return self._load_local_fallbacks()
            finally:
                self._first_refresh_done.set()

    def _refresh(self) -> bool:
        with self._lock:
            changed = False
            try:
                sources = self._discover()
            except Exception as exc:
                self._errors[STORE] = f"index store unreachable: {_describe(exc)}"
                log.warning("index refresh failed: %s", self._errors[STORE])
                changed = self._load_local_fallbacks()
                return changed
            self._errors.pop(STORE, None)
            pushes = dict(self._pushes)
            known = set(self._indexes) | set(self._keep) | set(self._local_sources())
            for source in known - set(sources):
                changed |= self._unload(source)
                pushes.pop(source, None)
            for source in sources:
                errors = []
                try:
                    changed |= self._refresh_source(source)
                except Exception as exc:
                    errors.append(_describe(exc))
                try:  # apart: a push record it cannot read must not hold its index back
                    self._read_push(source, pushes)
                except Exception as exc:
                    errors.append(f"latest push unreadable: {_describe(exc)}")
                if errors:
                    self._errors[source] = "; ".join(errors)
                    log.warning("index for %s not refreshed: %s", source, self._errors[source])
                else:
                    self._errors.pop(source, None)
            self._pushes = MappingProxyType(pushes)
            self._last_refresh = datetime.now(UTC)
            return changed

    async def refresh_async(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """`refresh` in a daemon thread. If the store does not answer within `timeout`
        seconds (the GCS client retries a dead endpoint for minutes), record that and return
        False; the thread finishes on its own and the next call waits for it instead of
        starting another."""
        timeout = self.default_timeout() if timeout is None else timeout
        if self._pending is None or self._pending.done():
            self._pending = _in_daemon_thread(self.refresh)
        try:
            return await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(self._pending)), timeout
            )
        except TimeoutError:
            self._first_refresh_done.set()
            self._errors[STORE] = (
                f"index store did not answer within {timeout:g}s; serving the last good index"
            )
            log.warning("index refresh: %s", self._errors[STORE])
            return False

    def default_timeout(self) -> float:
        return max(30.0, 3 * self.settings.index_poll_seconds)

    async def run(self) -> None:
        """Poll forever (the app lifespan runs this as a background task)."""
        while True:
            try:
                await self.refresh_async()
            except Exception:  # never let the poller die
                log.exception("index refresh crashed")
            await asyncio.sleep(self.settings.index_poll_seconds)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="index-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # --- internals ------------------------------------------------------------------
    def _discover(self) -> list[str]:
        return indexed_sources(self.store)

    def _read_push(self, source: str, pushes: dict[str, LatestPush]) -> None:
        """One small object per source and poll: what list_sources compares the index with."""
        push, _ = read_push(self.store, source)
        if push is None:
            pushes.pop(source, None)
        else:
            pushes[source] = push

    def _refresh_source(self, source: str) -> bool:
        pointer, _ = read_pointer(self.store, source)
        if pointer is None:  # `thoth sources remove` deletes the pointer first
            return self._unload(source)
        current = self._indexes.get(source)
        if current is not None and current.version == pointer.version:
            # A version a finished request held until now can go.
            self._prune(source, self._keep.get(source, {pointer.version}))
            self._failed.pop(source, None)  # the pointer moved back: try it again if named
            return False
        failed = self._failed.get(source)
        if failed is not None and failed[0] == pointer.version:
            raise SnapshotError(failed[1])
        directory = local_copy(self.store, source, pointer.version, self.cache_dir)
        try:
            index = SourceIndex(open_snapshot(directory), indexed_at=pointer.indexed_at)
            self._install(source, index)
        except Exception as exc:
            # What the snapshot holds fails the same way each time: remembered, and its copy
            # goes. Anything else (MemoryError, too many open files) is tried again at the next
            # poll on the same copy. Either way one failed copy at most stays, as a copy per
            # failed version would fill an in-memory /tmp.
            lasting = isinstance(exc, SnapshotError | ValueError)
            keep = set(self._keep.get(source, set()))
            if not lasting:
                keep.add(pointer.version)
            self._prune(source, keep)
            if not lasting:
                raise
            reason = str(exc) if isinstance(exc, SnapshotError) else _describe(exc)
            self._failed[source] = (
                pointer.version,
                f"{source}@{pointer.version} not loaded: {reason} "
                "(tried again when the pointer names another version, or at restart)",
            )
            raise SnapshotError(self._failed[source][1]) from exc
        self._failed.pop(source, None)
        del current  # not a reader: only readers' references keep older versions
        self._keep[source] = {pointer.version}
        self._prune(source, self._keep[source])
        return True

    def _install(self, source: str, index: SourceIndex) -> None:
        if index.manifest.variant != self.settings.embedding_variant:
            # Its vectors and this server's query vectors come from different encoders:
            # refused, so the version already served (if any) stays.
            raise SnapshotError(
                f"{source}@{index.version} was embedded with the {index.manifest.variant} "
                f"encoder, this server encodes queries with {self.settings.embedding_variant} "
                "(THOTH_EMBEDDING_VARIANT); re-ingest the source or change the setting"
            )
        if index.manifest.model != self.settings.embedding_model:
            log.warning(
                "%s@%s was embedded with %s, the server encodes queries with %s",
                source,
                index.version,
                index.manifest.model,
                self.settings.embedding_model,
            )
        self._held[source, index.version] = index
        updated = dict(self._indexes)
        updated[source] = index
        self._loaded_at[source] = datetime.now(UTC)
        self._indexes = MappingProxyType(updated)  # the one swap readers can observe
        log.info("serving %s@%s (%d chunks)", source, index.version, len(index))

    def _unload(self, source: str) -> bool:
        """Stop serving a source whose index was removed from the store, and delete its local
        copies that no request holds (those go at a later poll). True when it was served."""
        served = source in self._indexes
        if served:
            updated = dict(self._indexes)
            del updated[source]
            self._indexes = MappingProxyType(updated)
            self._loaded_at.pop(source, None)
            log.info("stopped serving %s: its index was removed from the store", source)
        self._keep[source] = set()
        self._prune(source, set())
        self._failed.pop(source, None)
        self._errors.pop(source, None)
        folder = self.cache_dir / source
        if not folder.is_dir() or not any(folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
            del self._keep[source]
        return served

    def _local_sources(self) -> list[str]:
        """Sources with copies on local disk: folders that hold only version folders (a
        removed source's copies left by an earlier process must go before an outage could
        serve them as fallbacks; anything else in the folder is left alone)."""
        if not self.cache_dir.is_dir():
            return []
        return [
            folder.name
            for folder in self.cache_dir.iterdir()
            if folder.is_dir() and all(_is_version_copy(child) for child in folder.iterdir())
        ]

    def _prune(self, source: str, keep: set[str]) -> None:
        """Delete the source's local versions but `keep` and those a reader still holds."""
        folder = self.cache_dir / source
        for child in folder.iterdir() if folder.is_dir() else []:
            held = (source, child.name) in self._held
            if child.is_dir() and child.name not in keep and not held:
                shutil.rmtree(child, ignore_errors=True)

    def _load_local_fallbacks(self) -> bool:
        """With the store down and nothing loaded for a source, serve its newest complete
        local copy (a restart during an outage)."""
        changed = False
        if not self.cache_dir.is_dir():
            return False
        for folder in sorted(p for p in self.cache_dir.iterdir() if p.is_dir()):
            if folder.name in self._indexes:
                continue
            copies = [
                p
                for p in folder.iterdir()
                if not p.name.endswith(PARTIAL_SUFFIX) and (p / SNAPSHOT_MANIFEST).is_file()
            ]
            for copy in sorted(copies, key=lambda p: (p / SNAPSHOT_MANIFEST).stat().st_mtime)[::-1]:
                try:
                    snapshot = open_snapshot(copy)
                    snapshot.verify(hashes=False)  # hashed when it was downloaded
                    self._install(folder.name, SourceIndex(snapshot))
                    changed = True
                    break
                except Exception as exc:  # any copy that does not load: try an older one
                    log.warning("local copy %s unusable: %s", copy, _describe(exc))
        return changed


def _is_version_copy(path: Path) -> bool:
    return path.is_dir() and (
        path.name.endswith(PARTIAL_SUFFIX) or (path / SNAPSHOT_MANIFEST).is_file()
    )


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:500]


def _in_daemon_thread(fn: object) -> concurrent.futures.Future[bool]:
    future: concurrent.futures.Future[bool] = concurrent.futures.Future()

    def target() -> None:
        try:
            future.set_result(fn())  # type: ignore[operator]
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=target, name="thoth-index-refresh", daemon=True).start()
    return future
