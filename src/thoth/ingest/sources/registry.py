"""The registered sources, one JSON object each at `registry/sources/<name>.json`."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from thoth.bucket.keys import (
    source_config_key,
    source_from_config_key,
    source_registry_prefix,
)
from thoth.bucket.store import BlobStore, NotFound
from thoth.errors import InvalidInputError, NotFoundError, encodable
from thoth.ingest.sources.models import SourceConfig, validate_source_name

log = logging.getLogger(__name__)


class UnknownSourceError(LookupError, NotFoundError):
    """No source of that name is registered."""

    def __init__(self, name: str, known: list[str]) -> None:
        listed = ", ".join(known) if known else "none are registered"
        super().__init__(f"unknown source {name!r}; known sources: {listed}")
        self.name = name
        self.known = known


class RegistryError(InvalidInputError):
    """A stored source configuration cannot be read."""


def save_source(store: BlobStore, config: SourceConfig) -> None:
    """Register a source, or replace its configuration."""
    store.write_json(source_config_key(config.name), config.model_dump(mode="json"))


def get_source(store: BlobStore, name: str) -> SourceConfig:
    """The source's configuration; UnknownSourceError lists the known names."""
    validate_source_name(name)
    try:
        data, _ = store.read(source_config_key(name))
    except NotFound:
        raise UnknownSourceError(name, source_names(store)) from None
    try:
        return SourceConfig.model_validate_json(data)
    except ValidationError as exc:
        raise RegistryError(
            f"stored configuration of source {name!r} is invalid ({_first_error(exc)}); "
            "register the source again"
        ) from exc


def _first_error(exc: ValidationError) -> str:
    """The first problem, short and without pydantic's links and input dumps."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "the object"
    return encodable(f"{where}: {error['msg']}"[:200])


def source_names(store: BlobStore) -> list[str]:
    """The names of all registered sources, sorted."""
    names = (
        source_from_config_key(obj.key) for obj in store.list_objects(source_registry_prefix())
    )
    return sorted(name for name in names if name is not None)


def list_sources(store: BlobStore) -> list[SourceConfig]:
    """All registered sources, sorted by name; unreadable entries are logged and skipped."""
    configs = []
    for name in source_names(store):
        try:
            configs.append(get_source(store, name))
        except (RegistryError, UnknownSourceError, ValueError) as exc:
            log.warning("skipping source %r: %s", name, exc)
    return configs
