"""Background processes with pid files: start detached, check, stop exactly what we started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from thoth_devstack.services import Service


class StackError(Exception):
    """The stack cannot start or stop as asked; the message says what to do."""


@dataclass(frozen=True)
class Running:
    pid: int
    command: list[str]


def pid_file(state: Path, name: str) -> Path:
    return state / "pids" / f"{name}.json"


def log_file(state: Path, name: str) -> Path:
    return state / "logs" / f"{name}.log"


def read_running(state: Path, name: str) -> Running | None:
    """The recorded process, if it is still alive and still the command we started."""
    path = pid_file(state, name)
    try:
        record = json.loads(path.read_text())
        pid, command = int(record["pid"]), list(record["command"])
    except (OSError, ValueError, KeyError):
        return None
    if not _alive(pid) or not _same_command(pid, command):
        return None
    return Running(pid, command)


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def start(state: Path, service: Service, env: dict[str, str]) -> Running:
    for port in service.ports:
        if port_in_use(port):
            raise StackError(
                f"port {port} (for {service.name}) is already taken by another program; "
                f"free it (e.g. `lsof -i :{port}`) and run `make up` again"
            )
    log = log_file(state, service.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file(state, service.name).parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            service.command,
            env={**os.environ, **env, **service.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives `make up`, and can be stopped as a group
        )
    record = {"pid": proc.pid, "command": service.command}
    pid_file(state, service.name).write_text(json.dumps(record))
    return Running(proc.pid, service.command)


def wait_healthy(state: Path, service: Service, pid: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # By pid, not read_running: just after fork, /proc/PID/cmdline is still the parent's.
        if not _alive(pid):
            tail = _tail(log_file(state, service.name))
            raise StackError(f"{service.name} exited during start; last log lines:\n{tail}")
        with contextlib.suppress(httpx.HTTPError, ValueError):
            answer = httpx.get(service.health_url, timeout=2)
            # A front door answers at once; it is healthy when its service has started.
            if answer.status_code == 200 and _started(answer):
                return
        time.sleep(0.2)
    raise StackError(f"{service.name} did not become healthy within {timeout:.0f}s")


def _started(answer: httpx.Response) -> bool:
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return True
    state = answer.json().get("state")
    return state is None or state == "ready"


def healthy(service: Service) -> bool:
    try:
        return httpx.get(service.health_url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def stop(state: Path, name: str, timeout: float = 10.0) -> bool:
    """Stop the recorded process group. False when nothing of ours was running."""
    running = read_running(state, name)
    pid_file(state, name).unlink(missing_ok=True)
    if running is None:
        return False
    _signal_group(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(running.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(running.pid):
        _signal_group(running.pid, signal.SIGKILL)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie is not alive
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
            return False
    return True


def _same_command(pid: int, command: list[str]) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    executable = Path(command[0]).name
    return any(Path(part.decode(errors="replace")).name == executable for part in cmdline[:3])


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
