"""Benchmark: the ingestion worker's memory, as Cloud Run counts it, on a large source.

    make up, then .venv/bin/python bench/worker_memory.py [--chunks 200000]

A job on a large source that changes one file plans from the served index (a local copy
downloaded into `/tmp`), embeds one batch, and in finalize reads every unchanged chunk into
memory, builds the new version in `/tmp` and uploads it. On Cloud Run `/tmp` is memory. This
publishes a synthetic index of `bench/query.py` (its chunks cut and embedded as the stack's
worker would record them, so they are carried over, not embedded again) for a new `upload`
source whose mirrored files are the index's documents, changes one file, runs the job
through the stack of `make up` (the worker behind the Cloud Run front door with Terraform's
memory limit), and samples every worker instance's memory as the door counts it (resident
memory plus what it wrote to its private `/tmp` stand-in) every 0.25 s until the job ends,
then removes the source.
Results: bench/results/worker-memory.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, markdown_table, memory_stops
from query import embedded_base, synthetic_records
from thoth_devstack import front_door
from thoth_devstack.services import STATE_DIR, stack_settings
from thoth_devstack.stack import status

from thoth.bucket.pointer import Pointer, read_pointer, swap_pointer
from thoth.bucket.snapshot import build_snapshot
from thoth.bucket.versions import upload_version
from thoth.ingest.pipeline.base_snapshot import chunking_signature
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.remove import remove_source
from thoth.ingest.pipeline.start import start_job
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import save_source
from thoth.ingest.sources.sync import upload_directory

WORKER_PORT = 8081
SAMPLE_SECONDS = 0.25


def md5_hex(data: bytes) -> str:
    """What the worker's plan compares: the md5 GCS records for an object."""
    return hashlib.md5(data).hexdigest()  # noqa: S324


def publish_source(ctx: Context, source: str, chunks: int, workdir: Path) -> int:
    """The synthetic index as `source`'s served version, and its documents as its files."""
    base, vectors = embedded_base(min(2000, chunks), 7)
    documents, records = synthetic_records(chunks, base, vectors, 7)
    files = workdir / "files"
    hashes: dict[str, str] = {}
    for doc in documents:
        data = doc.text.encode()
        path = files / doc.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        hashes[doc.path] = md5_hex(data)
    documents = [dataclasses.replace(d, source=source, file_hash=hashes[d.path]) for d in documents]
    records = [dataclasses.replace(r, source=source, file_hash=hashes[r.path]) for r in records]
    version = f"bench-{chunks}"
    built = workdir / version
    manifest = build_snapshot(
        built,
        source=source,
        version=version,
        documents=documents,
        chunks=records,
        model=ctx.settings.embedding_model,
        variant=ctx.settings.embedding_variant,
        chunking=chunking_signature(ctx.settings),
        dimensions=int(vectors.shape[1]),
    )
    save_source(ctx.store, SourceConfig(name=source, kind="upload"))
    upload_directory(ctx.store, source, files)
    upload_version(ctx.store, source, version, built)
    _, generation = read_pointer(ctx.store, source)
    pointer = Pointer(
        source=source, version=version, documents=manifest.documents, chunks=manifest.chunks
    )
    swap_pointer(ctx.store, pointer, generation)
    changed = files / documents[0].path
    changed.write_text(changed.read_text() + "\n\nA paragraph added for the benchmark.\n")
    upload_directory(ctx.store, source, files)
    return sum(p.stat().st_size for p in built.rglob("*") if p.is_file())


class Sampler:
    """The door's view of every worker instance, every SAMPLE_SECONDS, in a thread."""

    def __init__(self) -> None:
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                instances = front_door.door_health(WORKER_PORT).get("instances", [])
            except Exception:  # noqa: S112  # the door busy: next sample
                continue
            for i in instances:
                number = int(i["instance"])
                self.peak[number] = max(self.peak.get(number, 0), int(i["memory_mib"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=200000)
    parser.add_argument(
        "--timeout", type=float, default=600, help="stop waiting for the job after this long"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "worker-memory")
    args = parser.parse_args(argv)
    if not all(row.healthy for row in status(STATE_DIR)):
        raise SystemExit("the local stack is not running: `make up` first")
    ctx = Context.from_settings(stack_settings(STATE_DIR))
    source = f"bench-big-{int(time.time())}"
    door_log = STATE_DIR / "logs" / "ingestion.log"  # the door's lines and the worker's
    log_start = door_log.stat().st_size if door_log.is_file() else 0
    with tempfile.TemporaryDirectory(prefix="thoth-worker-memory-") as tmp:
        snapshot_bytes = publish_source(ctx, source, args.chunks, Path(tmp))
    try:
        row = measure(ctx, source, args, door_log, log_start)
    finally:
        # Left behind, the source would be served by the stack's MCP server (a 200,000-chunk
        # index does not fit its 2Gi beside the handbook) and fill the fake GCS.
        removed = remove_source(ctx, source)
        print(f"removed {source}: {removed.index_objects + removed.mirror_objects} objects")
    row["snapshot_mib"] = round(snapshot_bytes / 2**20)
    report(args, row)


def measure(
    ctx: Context, source: str, args: argparse.Namespace, door_log: Path, log_start: int
) -> dict[str, Any]:
    """One job on `source` with the door's view of the worker instances sampled."""
    health = front_door.door_health(WORKER_PORT)
    starts = int(health["starts"])
    began = time.monotonic()
    with Sampler() as sampler:
        job = start_job(ctx, source)
        while not (progress := ctx.jobs.progress(job.job_id)).job.status.finished:
            if time.monotonic() - began > args.timeout:
                ctx.jobs.fail(
                    job.job_id, f"cancelled by bench/worker_memory.py after {args.timeout:g} s"
                )
                break
            time.sleep(1.0)
    health = front_door.door_health(WORKER_PORT)
    log = door_log.read_text(errors="replace")[log_start:] if door_log.is_file() else ""
    used = memory_stops(log)
    return {
        "chunks": args.chunks,
        "memory_limit_mib": health.get("memory_limit_mib"),
        "job": job.job_id,
        "status": str(progress.job.status)
        if progress.job.status.finished
        else f"still running after {args.timeout:g} s",
        "error": progress.job.error,
        "seconds": round(time.monotonic() - began, 1),
        "chunks_embedded": progress.counts.chunks_embedded,
        "peak_mib_by_instance": sampler.peak,
        "instance_starts": int(health["starts"]) - starts,
        "stopped_at_mib": used,
    }


def report(args: argparse.Namespace, row: dict[str, Any]) -> None:
    result = {"measured_at": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "row": row}
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    peaks = ", ".join(f"{mib}" for _, mib in sorted(row["peak_mib_by_instance"].items()))
    stopped = ", ".join(str(u) for u in row["stopped_at_mib"]) or "no"
    table = markdown_table(
        ["chunks", "snapshot MiB", "limit MiB", "job", "chunks embedded", "seconds",
         "peak MiB per instance", "stopped (MiB seen)", "new starts"],
        [[f"{args.chunks:,}", row["snapshot_mib"], row["memory_limit_mib"], row["status"],
          row["chunks_embedded"], row["seconds"], peaks, stopped, row["instance_starts"]]],
    )  # fmt: skip
    text = (
        "### Worker memory on a large source (`bench/worker_memory.py`)\n\n"
        f"Measured {result['measured_at']}; one file changed in a source of {args.chunks:,} "
        "chunks; memory as the Cloud Run front-door emulator counts it, sampled every "
        f"{SAMPLE_SECONDS} s.\n\n{table}\n"
    )
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
