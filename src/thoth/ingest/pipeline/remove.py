"""Remove a source: its registration, its index (every version) and its mirrored files.

The registration goes first, so no new job can start for the source; then the pointer, so MCP
servers stop serving it at their next poll; then the rest, and this process's ingestion copies
of its versions (`<cache>/ingest/<source>`). A job that holds the source refuses the removal
(before and after the registration is gone: a job started in between wins, and the registration
is put back). A removal cut short is finished by running it again, as is one that ran beside an
`ingest --from-dir` of the source or while a cancelled job's tasks still ran (either may write
files after the removal deleted them).
"""

from __future__ import annotations

from pydantic import BaseModel

from thoth.bucket.keys import (
    index_prefix,
    latest_push_key,
    pointer_key,
    source_config_key,
    source_prefix,
    sync_state_key,
)
from thoth.bucket.pointer import read_pointer
from thoth.errors import ConflictError
from thoth.ingest.pipeline.base_snapshot import forget_source
from thoth.ingest.pipeline.context import Context
from thoth.ingest.sources.models import SourceConfig, validate_source_name
from thoth.ingest.sources.registry import UnknownSourceError, get_source, save_source, source_names


class SourceBusy(ConflictError):
    """A job holds the source: nothing was removed."""

    def __init__(self, source: str, job_id: str) -> None:
        super().__init__(
            f"source {source!r} not removed, nothing deleted: job {job_id} is running for it. "
            f"Stop it with `thoth cancel {job_id}` and remove the source once its tasks ended"
        )


class Removal(BaseModel):
    """What a removal deleted."""

    source: str
    registered: bool  # whether a registration was found
    served_version: str | None  # the version the pointer named
    index_objects: int
    mirror_objects: int


def remove_source(ctx: Context, name: str) -> Removal:
    validate_source_name(name)
    config = _registration(ctx, name)
    served = _served_version(ctx, name)
    if config is None and served is None and not _has_objects(ctx, name):
        raise UnknownSourceError(name, source_names(ctx.store))
    _refuse_while_held(ctx, name, None)
    ctx.store.delete(source_config_key(name))
    _refuse_while_held(ctx, name, config)
    index_objects = int(ctx.store.delete(pointer_key(name)))
    index_objects += ctx.store.delete_prefix(index_prefix(name))
    mirror_objects = ctx.store.delete_prefix(source_prefix(name))
    ctx.store.delete(sync_state_key(name))
    ctx.store.delete(latest_push_key(name))
    forget_source(ctx.settings.cache_dir, name)
    return Removal(
        source=name,
        registered=config is not None,
        served_version=served,
        index_objects=index_objects,
        mirror_objects=mirror_objects,
    )


def _registration(ctx: Context, name: str) -> SourceConfig | None:
    try:
        return get_source(ctx.store, name)
    except UnknownSourceError:
        return None


def _served_version(ctx: Context, name: str) -> str | None:
    try:
        pointer, _ = read_pointer(ctx.store, name)
    except ValueError:  # a damaged pointer must not keep its source from being removed
        return "(unreadable)"
    return pointer.version if pointer is not None else None


def _has_objects(ctx: Context, name: str) -> bool:
    prefixes = (index_prefix(name), source_prefix(name))
    keys = (sync_state_key(name), latest_push_key(name))
    listed = any(next(iter(ctx.store.list_objects(p)), None) for p in prefixes)
    return listed or any(ctx.store.exists(key) for key in keys)


def _refuse_while_held(ctx: Context, name: str, restore: SourceConfig | None) -> None:
    holder = ctx.jobs.holder(name)
    if holder is None:
        return
    if restore is not None:
        save_source(ctx.store, restore)
    raise SourceBusy(name, holder)
