"""Benchmark: the MCP server's memory, as Cloud Run counts it, while it swaps to a new index.

    .venv/bin/python bench/swap_memory.py [--scales 50000,200000]

Cloud Run stops an instance whose memory passes its limit, and its `/tmp` (the server's
snapshot cache) is memory too. While a new version loads, the old one keeps serving, so for
a while the instance holds two indexes and their copies. This runs the real server
(`python -m thoth.serve.mcp`) behind the Cloud Run front-door emulator with the settings of
`terraform/modules/mcp/main.tf` (its memory limit included; the emulator counts the resident
memory of the container's processes plus what they wrote to the private cache folder), over
the real fake-gcs-server holding a synthetic index of bench/query.py. Per scale: wait until
the door's instance is ready and serves version A, publish version B
(the same index under another version name), and sample the door's view of the instance
every 0.25 s until B is served: peak memory, whether an instance was stopped, how long it
took. Results: bench/results/swap-memory.json and .md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, VENV_BIN, fake_gcs, free_port, machine, markdown_table, memory_stops
from query import QCACHE, Server, publish, snapshot_dir
from thoth_devstack import front_door

from thoth.bucket.keys import SNAPSHOT_MANIFEST
from thoth.bucket.snapshot import SnapshotManifest, read_manifest

SAMPLE_SECONDS = 0.25


def renamed(directory: Path, version: str, workdir: Path) -> tuple[Path, SnapshotManifest]:
    """The same snapshot under another version name (its files' hashes stay valid)."""
    copy = workdir / version
    shutil.copytree(directory, copy)
    data = json.loads((copy / SNAPSHOT_MANIFEST).read_text())
    data["version"] = version
    (copy / SNAPSHOT_MANIFEST).write_text(json.dumps(data))
    return copy, read_manifest(copy)


def served_version(port: int) -> str | None:
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return None
    sources = body.get("sources") or []
    return str(sources[0]["version"]) if sources else None


def instance_view(port: int) -> list[dict[str, Any]]:
    try:
        return list(front_door.door_health(port).get("instances", []))
    except httpx.HTTPError:
        return []


def measure(
    emulator: str, chunks: int, workdir: Path, logs: Path, memory_mib: int | None
) -> dict[str, Any]:
    directory, manifest = snapshot_dir(chunks, min(2000, chunks), 7)
    bucket = f"swap-{chunks}"
    publish(emulator, bucket, directory, manifest)
    env = {
        **Server(emulator, bucket, workdir, logs / "unused.log").env,
        "THOTH_HOST": "127.0.0.1",
        "THOTH_CACHE_DIR": str(workdir / "cache"),
    }
    port = free_port()
    door = front_door.DoorService(
        name="thoth-mcp",
        terraform=front_door.TERRAFORM / "mcp" / "main.tf",
        port=port,
        command=[str(VENV_BIN / "python"), "-m", "thoth.serve.mcp"],
        env={k: v for k, v in env.items() if k.startswith(("THOTH_", "STORAGE_", "HF_"))},
        issuers=["http://127.0.0.1:1"],  # unused: the door is open
        members=front_door.mcp_members(None),
        extra={"overrides": {"memory_bytes": memory_mib * 2**20}} if memory_mib else {},
    )
    door_dir = logs / f"door-{chunks}-{memory_mib or 'terraform'}"
    door_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"chunks": chunks, "snapshot_mib": _mib(_size(directory))}
    with front_door.running([door], door_dir, timeout=900):
        out["memory_limit_mib"] = front_door.door_health(port).get("memory_limit_mib")
        deadline = time.monotonic() + 900
        while served_version(port) != manifest.version and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)  # settled
        out["steady_mib"] = max((i["memory_mib"] for i in instance_view(port)), default=None)
        starts = int(front_door.door_health(port)["starts"])
        new_dir, new_manifest = renamed(directory, f"{manifest.version}-b", workdir)
        began = time.monotonic()
        publish(emulator, bucket, new_dir, new_manifest)
        peak, samples = 0, 0
        while time.monotonic() - began < 900:
            view = instance_view(port)
            peak = max([peak, *(i["memory_mib"] for i in view)])
            samples += 1
            if served_version(port) == new_manifest.version:
                break
            time.sleep(SAMPLE_SECONDS)
        out["swap_seconds"] = round(time.monotonic() - began, 1)
        out["served_after"] = served_version(port)
        out["peak_mib_during_swap"] = peak
        out["samples"] = samples
        out["instance_starts_during_swap"] = int(front_door.door_health(port)["starts"]) - starts
        time.sleep(3)
        out["after_mib"] = max((i["memory_mib"] for i in instance_view(port)), default=None)
    log = (door_dir / "cloud-run.log").read_text(errors="replace")
    used = memory_stops(log)
    out["memory_limit_exceeded"] = bool(used)
    out["stopped_at_mib"] = used  # what the door saw pass the limit
    return out


def _row(r: dict[str, Any]) -> list[Any]:
    at = ", ".join(f"{u}" for u in r["stopped_at_mib"])
    stopped = f"yes, at {at} MiB" if r["memory_limit_exceeded"] else "no"
    return [
        f"{r['chunks']:,}", r["snapshot_mib"], r["memory_limit_mib"], r["steady_mib"],
        r["peak_mib_during_swap"], stopped, r["instance_starts_during_swap"],
        r["swap_seconds"], r["after_mib"],
    ]  # fmt: skip


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _mib(size: int) -> int:
    return round(size / 2**20)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="50000,200000")
    parser.add_argument(
        "--memory-mib", type=int, help="the instance's memory limit instead of Terraform's"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "swap-memory")
    args = parser.parse_args(argv)
    logs = QCACHE / "swap-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    rows = []
    with fake_gcs(log=logs / "fake-gcs.log") as emulator:
        for chunks in (int(s) for s in args.scales.split(",") if s):
            workdir = Path(tempfile.mkdtemp(prefix=f"thoth-swap-{chunks}-"))
            try:
                rows.append(measure(emulator, chunks, workdir, logs, args.memory_mib))
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            print(rows[-1], flush=True)
    result = {"measured_at": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    headers = [
        "chunks", "snapshot MiB", "limit MiB", "serving MiB", "peak MiB while swapping",
        "instance stopped", "new starts", "seconds to serve B", "MiB after",
    ]  # fmt: skip
    table = markdown_table(headers, [_row(r) for r in rows])
    text = (
        "### MCP server memory while it swaps indexes (`bench/swap_memory.py`)\n\n"
        f"Measured {result['measured_at']}; memory as the Cloud Run front-door emulator counts "
        "it (resident memory plus the private cache folder's bytes), sampled every "
        f"{SAMPLE_SECONDS} s (a shorter peak can pass unseen; where the instance was stopped, "
        "the value that passed the limit is the door's, from its log).\n\n"
        f"{table}\n"
    )
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
