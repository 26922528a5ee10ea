"""Real processes on 127.0.0.1 for tests and benchmarks: a free port, waiting until an HTTP
endpoint answers, and a process that lives exactly as long as a `with` block."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until `url` answers with a status below 500; fail early if `proc` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate a process we started (by its own handle); kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


@contextmanager
def running(
    command: list[str],
    ready_url: str,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    timeout: float = 120.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` until the block ends, once `ready_url` answers; output goes to `log`."""
    out: Any = log.open("ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=out, stderr=out)
    try:
        wait_http(ready_url, timeout=timeout, proc=proc)
        yield proc
    finally:
        stop(proc)
        if log:
            out.close()


@contextmanager
def fake_gcs(port: int | None = None, log: Path | None = None) -> Iterator[str]:
    """The real fake-gcs-server, in memory (started by the fake-gcs-launcher package).
    Yields its URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "fake_gcs_launcher", "--port", str(port)]
    with running(command, f"{url}/storage/v1/b", log=log, timeout=60.0):
        yield url
