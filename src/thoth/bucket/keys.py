"""Where everything lives in the bucket: the only module that spells an object key.

    sources/<source>/<path>                       the mirror of a source's files
    registry/sources/<source>.json                a source's definition
    registry/sync/<source>.json                   a GitLab source's sync state
    registry/pushes/<source>.json                 the latest push known for a source
    locks/<source>.json                           the one running job of a source
    jobs/<job>/job.json                           a job record
    jobs/<job>/finalize-claim.json                who is finalizing the job
    jobs/<job>/batches/<nnnnn>/output.npz         a batch's documents and vectors
    jobs/<job>/batches/<nnnnn>/output-<sssss>.npz  ... of its part from file <sssss>
    jobs/<job>/batches/<nnnnn>/cut-<sssss>.json   where that part ends (create-only)
    jobs/<job>/batches/<nnnnn>/part-<sssss>.json  what that part did, for the last one
    jobs/<job>/batches/<nnnnn>/done.json          a batch's create-only completion marker
    indexes/<source>/current.json                 the pointer to the served version
    indexes/<source>/versions/<version>/...       an immutable snapshot (manifest.json last)

Every function returns a key or a prefix (prefixes end with "/"); `*_from_*` functions parse
the names back out of listings.
"""

from __future__ import annotations

SNAPSHOT_MANIFEST = "manifest.json"

SOURCES_ROOT = "sources/"
REGISTRY_SOURCES_ROOT = "registry/sources/"
REGISTRY_SYNC_ROOT = "registry/sync/"
REGISTRY_PUSHES_ROOT = "registry/pushes/"
LOCKS_ROOT = "locks/"
JOBS_ROOT = "jobs/"
INDEXES_ROOT = "indexes/"

_JSON = ".json"
_BATCH_DONE = "done.json"


# --- sources ------------------------------------------------------------------------------
def source_prefix(source: str) -> str:
    return f"{SOURCES_ROOT}{source}/"


def source_key(source: str, path: str) -> str:
    return f"{source_prefix(source)}{path}"


def source_config_key(source: str) -> str:
    return f"{REGISTRY_SOURCES_ROOT}{source}{_JSON}"


def source_registry_prefix() -> str:
    return REGISTRY_SOURCES_ROOT


def source_from_config_key(key: str) -> str | None:
    """The source a registry listing's key defines, or None for anything else there."""
    name = key.removeprefix(REGISTRY_SOURCES_ROOT)
    if key == name or not name.endswith(_JSON) or "/" in name:
        return None
    return name.removesuffix(_JSON)


def sync_state_key(source: str) -> str:
    return f"{REGISTRY_SYNC_ROOT}{source}{_JSON}"


def latest_push_key(source: str) -> str:
    return f"{REGISTRY_PUSHES_ROOT}{source}{_JSON}"


def source_lock_key(source: str) -> str:
    return f"{LOCKS_ROOT}{source}{_JSON}"


# --- jobs ---------------------------------------------------------------------------------
def job_prefix(job_id: str) -> str:
    return f"{JOBS_ROOT}{job_id}/"


def job_from_prefix(prefix: str) -> str:
    return prefix.removeprefix(JOBS_ROOT).rstrip("/")


def job_key(job_id: str) -> str:
    return f"{job_prefix(job_id)}job.json"


def finalize_claim_key(job_id: str) -> str:
    return f"{job_prefix(job_id)}finalize-claim.json"


def batches_prefix(job_id: str) -> str:
    return f"{job_prefix(job_id)}batches/"


def batch_output_key(job_id: str, batch: int, start: int = 0) -> str:
    """The output of the batch's files from `start` on (to its end, or to its cut)."""
    name = "output.npz" if start == 0 else f"output-{start:05d}.npz"
    return f"{batches_prefix(job_id)}{batch:05d}/{name}"


def batch_cut_key(job_id: str, batch: int, start: int) -> str:
    """Where the part of a batch that starts at `start` ends (create-only, written once)."""
    return f"{batches_prefix(job_id)}{batch:05d}/cut-{start:05d}.json"


def batch_part_key(job_id: str, batch: int, start: int) -> str:
    """What the part that starts at `start` did, for the batch's last part to sum up."""
    return f"{batches_prefix(job_id)}{batch:05d}/part-{start:05d}.json"


def batch_done_key(job_id: str, batch: int) -> str:
    return f"{batches_prefix(job_id)}{batch:05d}/{_BATCH_DONE}"


def is_batch_done_key(key: str) -> bool:
    return key.endswith("/" + _BATCH_DONE)


# --- indexes ------------------------------------------------------------------------------
def index_prefix(source: str) -> str:
    return f"{INDEXES_ROOT}{source}/"


def source_from_index_prefix(prefix: str) -> str:
    return prefix.removeprefix(INDEXES_ROOT).rstrip("/")


def pointer_key(source: str) -> str:
    return f"{index_prefix(source)}current.json"


def versions_prefix(source: str) -> str:
    return f"{index_prefix(source)}versions/"


def version_prefix(source: str, version: str) -> str:
    return f"{versions_prefix(source)}{version}/"


def version_from_prefix(source: str, prefix: str) -> str:
    return prefix.removeprefix(versions_prefix(source)).rstrip("/")


def manifest_key(source: str, version: str) -> str:
    return f"{version_prefix(source, version)}{SNAPSHOT_MANIFEST}"
