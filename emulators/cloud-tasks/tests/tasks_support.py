"""Helpers and fixtures for the Cloud Tasks emulator tests: the emulator as a subprocess of its
real CLI, a recording HTTP target, a client. A uniquely named module: several emulators' test
folders share one pytest run, so no test imports a `conftest`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

PROJECT = "test-project"
LOCATION = "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


# ---- the emulator ---------------------------------------------------------------------------


@dataclass
class EmulatorProcess:
    process: subprocess.Popen[bytes]
    grpc_port: int
    http_port: int
    log_path: Path

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def client(self) -> tasks_v2.CloudTasksClient:
        channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(  # noqa: S310 - http URL built from a constant
            self.http_base + path, timeout=5
        ) as response:
            return json.loads(response.read())

    def post_json(self, path: str, payload: dict[str, Any]) -> Any:
        request = urllib.request.Request(  # noqa: S310 - http URL built from a constant
            self.http_base + path,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(  # noqa: S310 - http URL built from a constant
            request, timeout=5
        ) as response:
            return json.loads(response.read())

    def logs(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _cli() -> list[str]:
    script = shutil.which("cloud-tasks-emulator", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "cloud_tasks_emulator"]


def start_emulator(tmp_dir: Path, *args: str, env: dict[str, str] | None = None) -> EmulatorProcess:
    grpc_port, http_port = free_port(), free_port()
    log_path = tmp_dir / f"emulator-{grpc_port}.log"
    log_file = log_path.open("wb")
    command = [*_cli(), "--port", str(grpc_port), "--http-port", str(http_port), *args]
    process = subprocess.Popen(
        command, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
    )
    emulator = EmulatorProcess(process, grpc_port, http_port, log_path)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"emulator exited: {log_path.read_text()}")
        try:
            return bool(emulator.get_json("/health")["status"] == "ok")
        except OSError:
            return False

    wait_for(healthy, timeout=20)
    return emulator


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    proc = start_emulator(tmp_path_factory.mktemp("emulator"), "--tombstone-seconds", "600")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def client(emulator: EmulatorProcess) -> tasks_v2.CloudTasksClient:
    return emulator.client()


@pytest.fixture
def faults(emulator: EmulatorProcess) -> Iterator[Callable[..., Any]]:
    """Set faults at runtime for one test; they are reset afterwards."""

    def set_faults(**changes: Any) -> Any:
        return emulator.post_json("/faults", changes)

    yield set_faults
    emulator.post_json("/faults", {"duplicate": 1, "fail_after_response": 0, "delay_max": 0})


@pytest.fixture
def make_queue(client: tasks_v2.CloudTasksClient) -> Iterator[Callable[..., tasks_v2.Queue]]:
    created: list[str] = []

    def make(paused: bool = False, **fields: Any) -> tasks_v2.Queue:
        name = f"{PARENT}/queues/q-{uuid.uuid4().hex[:12]}"
        queue = client.create_queue(parent=PARENT, queue={"name": name, **fields})
        created.append(name)
        return client.pause_queue(name=name) if paused else queue

    yield make
    for name in created:
        with contextlib.suppress(Exception):
            client.delete_queue(name=name)


# ---- the HTTP target ------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    method: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def task_id(self) -> str:
        return self.headers.get("X-CloudTasks-TaskName", "")


@dataclass
class Target:
    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    max_in_flight: int = 0
    seen: dict[str, int] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def url(self, path: str) -> str:
        return self.base + path

    def received(self, prefix: str = "/") -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def wait_count(self, prefix: str, count: int, timeout: float = 10.0) -> list[Received]:
        return wait_for(  # type: ignore[no-any-return]
            lambda: (got := self.received(prefix)) and len(got) >= count and got, timeout
        )


def _make_handler(target: Target) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            record = Received(self.path, self.command, dict(self.headers), body, time.time())
            with target.lock:
                target.requests.append(record)
                target.in_flight += 1
                target.max_in_flight = max(target.max_in_flight, target.in_flight)
                key = f"{self.path}#{record.task_id}"
                target.seen[key] = target.seen.get(key, 0) + 1
                nth = target.seen[key]
            try:
                status, extra = self._behave(nth)
            finally:
                with target.lock:
                    target.in_flight -= 1
            try:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass

        def _behave(self, nth: int) -> tuple[int, dict[str, str]]:
            parts = self.path.split("?")[0].strip("/").split("/")
            kind, arg = parts[0], (parts[1] if len(parts) > 1 else "")
            if kind == "redirect":
                return 302, {"Location": f"/redirected/{arg}"}
            if kind == "retry-after" and nth == 1:
                return 503, {"Retry-After": arg}
            if kind == "sequence":
                statuses = [int(s) for s in arg.split(",")]
                return statuses[min(nth, len(statuses)) - 1], {}
            return self._status(kind, arg, nth), {}

        def _status(self, kind: str, arg: str, nth: int) -> int:
            if kind == "status":
                return int(arg)
            if kind == "sleep":
                time.sleep(float(arg))
            if kind == "slow-fail":
                time.sleep(float(arg))
                return 500
            if kind == "sleep-first" and nth == 1:
                time.sleep(float(arg))
            if kind == "flaky" and nth <= int(arg):
                return 500
            return 200

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815

    return Handler


class _TargetServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


@pytest.fixture
def target() -> Iterator[Target]:
    server = _TargetServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    tgt = Target(server)
    server.RequestHandlerClass = _make_handler(tgt)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tgt
    server.shutdown()
    server.server_close()
