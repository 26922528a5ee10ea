"""Shared fixtures: real emulators on loopback, fresh buckets, settings pointing at them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
os.environ.setdefault("NO_GCE_CHECK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests.support.processes import fake_gcs
from thoth.bucket.store import BlobStore
from thoth.config import Settings


@pytest.fixture(scope="session")
def gcs_url() -> Iterator[str]:
    """One real fake-gcs-server for the session."""
    with fake_gcs() as url:
        yield url


@pytest.fixture
def settings(gcs_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for one test: its own bucket on the shared fake GCS."""
    return Settings(
        bucket=f"t-{uuid.uuid4().hex[:12]}",
        storage_emulator_host=gcs_url,
        cache_dir=tmp_path_factory.mktemp("cache"),
        auth="none",
    )


@pytest.fixture
def store(settings: Settings) -> BlobStore:
    blobs = BlobStore.from_settings(settings)
    blobs.ensure_bucket()
    return blobs
