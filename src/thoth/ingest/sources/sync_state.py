"""What the last GitLab sync mirrored: `registry/sync/<name>.json` = the commit the mirror
is at, the project's web URL and the blob id per path.

A sync from a known commit asks GitLab what changed since (compare); otherwise only blobs
whose id changed are downloaded again. The state remembers which project, ref and prefix it
describes; when the configuration changes, it is ignored (a full sync).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from thoth.bucket.keys import sync_state_key
from thoth.bucket.store import BlobStore, NotFound, PreconditionFailed
from thoth.errors import ConflictError
from thoth.ingest.sources.models import SourceConfig


class SyncConflictError(RuntimeError, ConflictError):
    """Another sync of the same source saved its state while this one ran."""


class SyncState(BaseModel):
    origin: str = ""
    blobs: dict[str, str] = Field(default_factory=dict)
    commit: str | None = None  # None: the mirror is not known to match any one commit
    web_url: str | None = None


def origin_of(config: SourceConfig) -> str:
    """What the state is valid for: project, ref and path prefix."""
    return f"{config.gitlab_project}@{config.gitlab_ref}:{config.path_prefix}"


def load_state(store: BlobStore, config: SourceConfig) -> tuple[SyncState, int]:
    """The state of the last sync (empty when none or for another origin), and the state
    object's generation (0 when there is none) for `save_state`."""
    try:
        data, generation = store.read(sync_state_key(config.name))
    except NotFound:
        return SyncState(origin=origin_of(config)), 0
    state = SyncState.model_validate_json(data)
    if state.origin != origin_of(config):
        return SyncState(origin=origin_of(config)), generation
    return state, generation


def save_state(store: BlobStore, config: SourceConfig, state: SyncState, generation: int) -> None:
    """Save the state unless another sync saved one since `generation` was read."""
    state = state.model_copy(
        update={"origin": origin_of(config), "blobs": dict(sorted(state.blobs.items()))}
    )
    try:
        store.write_json(sync_state_key(config.name), state.model_dump(), if_generation=generation)
    except PreconditionFailed:
        raise SyncConflictError(
            f"another sync of source {config.name!r} finished while this one ran; "
            "run the sync again"
        ) from None
