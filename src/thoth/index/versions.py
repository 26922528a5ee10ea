"""Snapshot versions in the bucket: upload, download, list, roll back, garbage-collect.

A version is the files of a local snapshot folder under `indexes/<source>/versions/<v>/`.
The manifest is uploaded last, so a version without one is incomplete and never used.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import BaseModel

from thoth.index.layout import SNAPSHOT_MANIFEST, index_prefix, version_prefix
from thoth.index.pointer import Pointer, read_pointer, swap_pointer
from thoth.storage import BlobStore, NotFound

UPLOAD_THREADS = 8


class VersionInfo(BaseModel):
    version: str
    complete: bool
    current: bool


def upload_version(store: BlobStore, source: str, version: str, directory: Path) -> None:
    """Upload every file of a snapshot folder; the manifest goes last."""
    prefix = version_prefix(source, version)
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    data_files = [p for p in files if p.name != SNAPSHOT_MANIFEST or p.parent != directory]
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        list(
            pool.map(
                lambda p: store.upload_file(prefix + p.relative_to(directory).as_posix(), p),
                data_files,
            )
        )
    store.upload_file(prefix + SNAPSHOT_MANIFEST, directory / SNAPSHOT_MANIFEST)


def download_version(store: BlobStore, source: str, version: str, destination: Path) -> Path:
    """Download a complete version into `destination` (via a `.partial` folder renamed at the
    end, so a crash never leaves a folder that looks complete)."""
    prefix = version_prefix(source, version)
    if not store.exists(prefix + SNAPSHOT_MANIFEST):
        raise NotFound(f"version {version} of {source} is incomplete or missing")
    partial = destination.with_name(destination.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    objects = list(store.list_objects(prefix))

    def fetch(key: str) -> None:
        target = partial / key.removeprefix(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        store.download_file(key, target)

    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        list(pool.map(fetch, [obj.key for obj in objects]))
    shutil.rmtree(destination, ignore_errors=True)
    partial.rename(destination)
    return destination


def list_versions(store: BlobStore, source: str) -> list[VersionInfo]:
    pointer, _ = read_pointer(store, source)
    root = index_prefix(source) + "versions/"
    infos = []
    for prefix in store.list_prefixes(root):
        version = prefix.removeprefix(root).rstrip("/")
        infos.append(
            VersionInfo(
                version=version,
                complete=store.exists(prefix + SNAPSHOT_MANIFEST),
                current=pointer is not None and pointer.version == version,
            )
        )
    return sorted(infos, key=lambda v: v.version)


def rollback(store: BlobStore, source: str, version: str) -> Pointer:
    """Point the source back at an older complete version."""
    pointer, generation = read_pointer(store, source)
    if pointer is None:
        raise NotFound(f"source {source} has no index yet")
    known = {v.version: v for v in list_versions(store, source)}
    if version not in known or not known[version].complete:
        raise NotFound(f"{source} has no complete version {version}; known: {sorted(known)}")
    manifest, _ = store.read_json(version_prefix(source, version) + SNAPSHOT_MANIFEST)
    target = Pointer(
        source=source,
        version=version,
        documents=int(manifest.get("documents", 0)),
        chunks=int(manifest.get("chunks", 0)),
        previous=pointer.version,
    )
    swap_pointer(store, target, generation)
    return target


def collect_garbage(store: BlobStore, source: str, keep: int) -> list[str]:
    """Delete all but the newest `keep` versions, never the current or previous one.
    Incomplete versions older than the newest complete one go too."""
    pointer, _ = read_pointer(store, source)
    protected = {pointer.version, pointer.previous} if pointer else set()
    versions = list_versions(store, source)
    complete = [v.version for v in versions if v.complete]
    kept = set(complete[-keep:]) | protected
    newest = complete[-1] if complete else ""
    removed = []
    for info in versions:
        stale_partial = not info.complete and info.version < newest
        if info.version not in kept and (info.complete or stale_partial):
            store.delete_prefix(version_prefix(source, info.version))
            removed.append(info.version)
    return removed
