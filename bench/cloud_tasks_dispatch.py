"""Benchmark: sustained dispatch rate of the Cloud Tasks emulator.

Starts the emulator (its real CLI) and a fast local HTTP target (this script with
--serve-target, a raw asyncio keep-alive server), creates a paused queue with
max_concurrent_dispatches and max_dispatches_per_second set, enqueues N tasks, resumes the
queue and measures deliveries per second from the first to the last delivery.

    .venv/bin/python bench/cloud_tasks_dispatch.py [--tasks 4000] [--concurrency 50]
        [--rate 500] [--target-delay-ms 5] [--json-out bench/results/cloud_tasks_dispatch.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from thoth_devstack.loopback import free_port, wait_http

# ---- the target: a minimal HTTP/1.1 keep-alive server that counts deliveries ----------------


class _Stats:
    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.in_flight = 0
        self.max_in_flight = 0


class _TargetProtocol(asyncio.Protocol):
    def __init__(self, stats: _Stats, delay: float) -> None:
        self.stats = stats
        self.delay = delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.jobs: set[asyncio.Future[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                key, _, value = line.partition(":")
                if key.strip().lower() == "content-length":
                    length = int(value.strip())
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            path = head.split(" ", 2)[1]
            job = asyncio.ensure_future(self._respond(path))
            self.jobs.add(job)
            job.add_done_callback(self.jobs.discard)

    async def _respond(self, path: str) -> None:
        if path == "/stats":
            body = json.dumps(vars(self.stats)).encode()
            self._write(200, body)
            return
        stats = self.stats
        now = time.time()
        stats.count += 1
        stats.first = stats.first or now
        stats.last = now
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        if self.delay:
            await asyncio.sleep(self.delay)
        stats.in_flight -= 1
        self._write(200, b"")

    def _write(self, status: int, body: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            head = f"HTTP/1.1 {status} OK\r\nContent-Length: {len(body)}\r\n\r\n"
            self.transport.write(head.encode() + body)


async def _serve_target(port: int, delay: float) -> None:
    stats = _Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _TargetProtocol(stats, delay), "127.0.0.1", port, backlog=1024
    )
    async with server:
        await server.serve_forever()


# ---- the driver -----------------------------------------------------------------------------


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local http URL
        return json.loads(response.read())


def _emulator_command() -> list[str]:
    script = shutil.which("cloud-tasks-emulator", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "cloud_tasks_emulator"]


def run(args: argparse.Namespace) -> dict[str, Any]:
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    grpc_port, http_port, target_port = free_port(), free_port(), free_port()
    log = tempfile.TemporaryFile(prefix="cloud-tasks-bench-", suffix=".log")  # noqa: SIM115
    target = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve-target",
            str(target_port),
            "--target-delay-ms",
            str(args.target_delay_ms),
        ]
    )
    emulator = subprocess.Popen(
        [
            *_emulator_command(),
            "--port",
            str(grpc_port),
            "--http-port",
            str(http_port),
            "--log-format",
            args.log_format,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"http://127.0.0.1:{http_port}/health")
        wait_http(f"http://127.0.0.1:{target_port}/stats")
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
        parent = "projects/bench/locations/local"
        queue = client.create_queue(
            parent=parent,
            queue=tasks_v2.Queue(
                name=f"{parent}/queues/dispatch",
                rate_limits=tasks_v2.RateLimits(
                    max_dispatches_per_second=args.rate,
                    max_concurrent_dispatches=args.concurrency,
                ),
            ),
        )
        client.pause_queue(name=queue.name)
        url = f"http://127.0.0.1:{target_port}/task"
        body = b'{"bench": true}'

        def create(_: int) -> None:
            task = tasks_v2.Task(http_request=tasks_v2.HttpRequest(url=url, body=body))
            client.create_task(parent=queue.name, task=task)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(create, range(args.tasks)))
        enqueue_seconds = time.perf_counter() - started

        client.resume_queue(name=queue.name)
        resumed = time.time()
        deadline = time.monotonic() + max(60.0, args.tasks / 50)
        stats = _get_json(f"http://127.0.0.1:{target_port}/stats")
        while stats["count"] < args.tasks and time.monotonic() < deadline:
            time.sleep(0.1)
            stats = _get_json(f"http://127.0.0.1:{target_port}/stats")
        span = stats["last"] - stats["first"]
        rate = (stats["count"] - 1) / span if span > 0 else 0.0
        return {
            "benchmark": "cloud_tasks_dispatch",
            "tasks": args.tasks,
            "delivered": stats["count"],
            "queue_max_concurrent_dispatches": args.concurrency,
            "queue_max_dispatches_per_second": args.rate,
            "target_delay_ms": args.target_delay_ms,
            "log_format": args.log_format,
            "enqueue_seconds": round(enqueue_seconds, 3),
            "enqueue_per_second": round(args.tasks / enqueue_seconds, 1),
            "first_delivery_after_resume_ms": round((stats["first"] - resumed) * 1000, 1),
            "dispatch_seconds": round(span, 3),
            "dispatches_per_second": round(rate, 1),
            "max_in_flight_at_target": stats["max_in_flight"],
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        }
    finally:
        for proc in (emulator, target):
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def _markdown(result: dict[str, Any]) -> str:
    rows = [
        ("tasks delivered", f"{result['delivered']} / {result['tasks']}"),
        (
            "queue limits",
            f"{result['queue_max_concurrent_dispatches']} concurrent, "
            f"{result['queue_max_dispatches_per_second']}/s",
        ),
        ("target delay", f"{result['target_delay_ms']} ms"),
        ("enqueue rate (not part of dispatch)", f"{result['enqueue_per_second']} tasks/s"),
        ("dispatch span", f"{result['dispatch_seconds']} s"),
        ("**sustained dispatch rate**", f"**{result['dispatches_per_second']} /s**"),
        ("max in flight at target", str(result["max_in_flight_at_target"])),
    ]
    lines = ["| metric | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--target-delay-ms", type=float, default=5.0)
    parser.add_argument("--log-format", choices=("json", "text"), default="json")
    parser.add_argument("--json-out", default="bench/results/cloud_tasks_dispatch.json")
    parser.add_argument("--serve-target", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_target:
        asyncio.run(_serve_target(args.serve_target, args.target_delay_ms / 1000))
        return
    result = run(args)
    print(_markdown(result))
    if args.json_out:
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
