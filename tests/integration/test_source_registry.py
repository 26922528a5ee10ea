"""The source registry in the real fake GCS bucket."""

from __future__ import annotations

import pytest

from thoth.bucket.keys import source_config_key
from thoth.bucket.store import BlobStore
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import (
    RegistryError,
    UnknownSourceError,
    get_source,
    list_sources,
    save_source,
    source_names,
)

HANDBOOK = SourceConfig(
    name="handbook",
    kind="gitlab",
    gitlab_project="acme/handbook",
    gitlab_ref="production",
    path_prefix="content",
    base_url="https://handbook.acme.test",
)
DOCS = SourceConfig(name="docs", kind="dir", directory="/srv/docs")


def test_save_get_list(store: BlobStore) -> None:
    save_source(store, HANDBOOK)
    save_source(store, DOCS)
    assert get_source(store, "handbook") == HANDBOOK
    assert store.read_json(source_config_key("docs"))[0]["directory"] == "/srv/docs"
    assert [config.name for config in list_sources(store)] == ["docs", "handbook"]


def test_save_replaces(store: BlobStore) -> None:
    save_source(store, DOCS)
    moved = DOCS.model_copy(update={"directory": "/srv/other"})
    save_source(store, moved)
    assert get_source(store, "docs").directory == "/srv/other"
    assert source_names(store) == ["docs"]


def test_unknown_source_lists_known_names(store: BlobStore) -> None:
    with pytest.raises(UnknownSourceError, match="none are registered"):
        get_source(store, "handbook")
    save_source(store, HANDBOOK)
    save_source(store, DOCS)
    with pytest.raises(UnknownSourceError, match="'nope'; known sources: docs, handbook") as caught:
        get_source(store, "nope")
    assert caught.value.known == ["docs", "handbook"]


def test_invalid_name_never_reaches_the_bucket(store: BlobStore) -> None:
    with pytest.raises(ValueError, match="invalid source name"):
        get_source(store, "../registry/x")


def test_corrupt_entry_is_an_error_on_get_and_skipped_in_list(store: BlobStore) -> None:
    save_source(store, DOCS)
    store.write(source_config_key("broken"), b'{"name": "broken", "kind": "ftp"}')
    with pytest.raises(RegistryError, match="'broken' is invalid"):
        get_source(store, "broken")
    assert [config.name for config in list_sources(store)] == ["docs"]


def test_a_corrupt_entry_is_reported_briefly(store: BlobStore) -> None:
    """An entry saved before lone surrogates were refused names the field, not pydantic's
    internals (its links and the whole input)."""
    stored = (
        b'{"name": "broken", "kind": "gitlab", "gitlab_project": "a/b", "gitlab_ref": "\\ud800"}'
    )
    store.write(source_config_key("broken"), stored)
    with pytest.raises(RegistryError) as raised:
        get_source(store, "broken")
    message = str(raised.value)
    assert "'broken' is invalid" in message and "register the source again" in message
    assert "pydantic" not in message and len(message) < 400
