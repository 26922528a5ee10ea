"""A thin adapter over one GCS bucket: the only store (design.md §1).

Concurrency control uses generation preconditions: `create_only` writes fail when the
object exists, `write(..., if_generation=G)` is a compare-and-swap.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage  # type: ignore[attr-defined]

from thoth.config import Settings
from thoth.errors import ConflictError, NotFoundError, ThothError


class StorageError(ThothError):
    """Base class of storage failures (unavailable unless a subclass says otherwise)."""


class NotFound(StorageError, NotFoundError):
    """The object does not exist."""


class PreconditionFailed(StorageError, ConflictError):
    """A create-only write met an existing object, or a compare-and-swap lost the race."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    generation: int
    md5: str | None
    updated: datetime | None = None


def make_client(settings: Settings) -> storage.Client:
    """A storage client for the cloud, or for fake-gcs-server when an emulator is set."""
    if settings.storage_emulator_host:
        return storage.Client(
            project=settings.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": settings.storage_emulator_host},
        )
    return storage.Client(project=settings.project)


class BlobStore:
    """Objects in one bucket, addressed by key."""

    def __init__(self, client: storage.Client, bucket: str) -> None:
        self._client = client
        self.bucket_name = bucket
        self._bucket = client.bucket(bucket)

    @classmethod
    def from_settings(cls, settings: Settings) -> BlobStore:
        return cls(make_client(settings), settings.bucket)

    def ensure_bucket(self) -> None:
        """Create the bucket when it is missing (local stacks and tests)."""
        with contextlib.suppress(gexc.Conflict):
            self._client.create_bucket(self.bucket_name)

    # --- reads ----------------------------------------------------------------------
    def read(self, key: str) -> tuple[bytes, int]:
        """The object's bytes and generation."""
        blob = self._bucket.blob(key)
        try:
            data = blob.download_as_bytes()
        except gexc.NotFound as exc:
            raise NotFound(key) from exc
        return data, int(blob.generation or 0)

    def read_json(self, key: str) -> tuple[Any, int]:
        data, generation = self.read(key)
        return json.loads(data), generation

    def stat(self, key: str) -> StoredObject | None:
        blob = self._bucket.get_blob(key)
        if blob is None:
            return None
        return _stored(blob)

    def exists(self, key: str) -> bool:
        return bool(self._bucket.blob(key).exists())

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        for blob in self._client.list_blobs(self.bucket_name, prefix=prefix):
            yield _stored(blob)

    def list_prefixes(self, prefix: str) -> list[str]:
        """The immediate 'folders' under prefix (each ends with '/')."""
        iterator = self._client.list_blobs(self.bucket_name, prefix=prefix, delimiter="/")
        for _ in iterator:
            pass
        return sorted(iterator.prefixes)

    def download_file(self, key: str, path: Path) -> None:
        try:
            self._bucket.blob(key).download_to_filename(str(path))
        except gexc.NotFound as exc:
            raise NotFound(key) from exc

    # --- writes ---------------------------------------------------------------------
    def write(
        self,
        key: str,
        data: bytes,
        *,
        if_generation: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> int:
        """Write an object; `if_generation=0` is create-only, `G > 0` is compare-and-swap.
        Returns the new generation."""
        blob = self._bucket.blob(key)
        try:
            blob.upload_from_string(
                data, content_type=content_type, if_generation_match=if_generation
            )
        except gexc.PreconditionFailed as exc:
            raise PreconditionFailed(key) from exc
        return int(blob.generation or 0)

    def write_json(self, key: str, value: Any, *, if_generation: int | None = None) -> int:
        data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        return self.write(key, data, if_generation=if_generation, content_type="application/json")

    def create_only(self, key: str, data: bytes) -> bool:
        """Create the object unless it exists. True when this call created it."""
        try:
            self.write(key, data, if_generation=0)
        except PreconditionFailed:
            return False
        return True

    def upload_file(self, key: str, path: Path) -> None:
        self._bucket.blob(key).upload_from_filename(str(path))

    def delete(self, key: str, *, if_generation: int | None = None) -> bool:
        """Delete an object. False when it was already gone."""
        try:
            self._bucket.blob(key).delete(if_generation_match=if_generation)
        except gexc.NotFound:
            return False
        except gexc.PreconditionFailed as exc:
            raise PreconditionFailed(key) from exc
        return True

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        for obj in list(self.list_objects(prefix)):
            count += self.delete(obj.key)
        return count


def _stored(blob: storage.Blob) -> StoredObject:
    return StoredObject(
        key=blob.name,
        size=int(blob.size or 0),
        generation=int(blob.generation or 0),
        md5=blob.md5_hash,
        updated=blob.updated,
    )
