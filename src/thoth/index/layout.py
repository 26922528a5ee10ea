"""Where everything lives in the bucket. The one place that spells out object keys."""

from __future__ import annotations

SNAPSHOT_MANIFEST = "manifest.json"


def source_prefix(source: str) -> str:
    return f"sources/{source}/"


def source_key(source: str, path: str) -> str:
    return f"{source_prefix(source)}{path}"


def source_config_key(source: str) -> str:
    return f"registry/sources/{source}.json"


def job_prefix(job_id: str) -> str:
    return f"jobs/{job_id}/"


def job_key(job_id: str) -> str:
    return f"{job_prefix(job_id)}job.json"


def batch_output_key(job_id: str, batch: int) -> str:
    return f"{job_prefix(job_id)}batches/{batch:05d}/output.npz"


def batch_done_key(job_id: str, batch: int) -> str:
    return f"{job_prefix(job_id)}batches/{batch:05d}/done.json"


def source_lock_key(source: str) -> str:
    return f"locks/{source}.json"


def index_prefix(source: str) -> str:
    return f"indexes/{source}/"


def version_prefix(source: str, version: str) -> str:
    return f"{index_prefix(source)}versions/{version}/"


def pointer_key(source: str) -> str:
    return f"{index_prefix(source)}current.json"


def source_registry_prefix() -> str:
    return "registry/sources/"


def sync_state_key(source: str) -> str:
    return f"registry/sync/{source}.json"
