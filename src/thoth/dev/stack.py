"""`thoth dev up|down|status`: the local stack as background processes (`make up`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thoth.config import Settings
from thoth.dev.processes import StackError, healthy, read_running, start, stop, wait_healthy
from thoth.dev.services import MCP_PORT, WORKER_PORT, Service, services, stack_env
from thoth.tasks import TaskQueue

Say = Callable[[str], None]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    healthy: bool
    ports: tuple[int, ...]
    log: Path


def status(state: Path, repo: Path) -> list[ServiceStatus]:
    rows = []
    for service in services(state, repo):
        running = read_running(state, service.name)
        rows.append(
            ServiceStatus(
                service.name,
                running.pid if running else None,
                running is not None and healthy(service),
                service.ports,
                state / "logs" / f"{service.name}.log",
            )
        )
    return rows


def up(state: Path, repo: Path, say: Say) -> bool:
    """Start whatever is not running. False when the whole stack was already up."""
    rows = status(state, repo)
    if all(row.healthy for row in rows):
        return False
    if any(row.pid for row in rows):
        say("found a partly running stack (a crash?): restarting it")
        down(state, repo, lambda _: None)
    env = stack_env(state)
    for service in services(state, repo):
        say(f"starting {service.name} on {', '.join(map(str, service.ports))}")
        running = start(state, service, env)
        try:
            wait_healthy(state, service, running.pid)
        except StackError:
            down(state, repo, lambda _: None)
            raise
        if service.name == "cloud-tasks":
            TaskQueue(stack_settings(state)).ensure_queue()
    return True


def down(state: Path, repo: Path, say: Say) -> None:
    for service in reversed(services(state, repo)):
        if stop(state, service.name):
            say(f"stopped {service.name}")


def stack_settings(state: Path) -> Settings:
    """Settings pointing at the local stack, for the CLI process itself."""
    env = stack_env(state)
    os.environ.update({k: v for k, v in env.items() if not k.startswith("THOTH_")})
    fields = {k.removeprefix("THOTH_").lower(): v for k, v in env.items() if k.startswith("THOTH_")}
    return Settings(
        storage_emulator_host=env["STORAGE_EMULATOR_HOST"],
        cloud_tasks_emulator_host=env["CLOUD_TASKS_EMULATOR_HOST"],
        **fields,  # type: ignore[arg-type]
    )


def wait_searchable(mcp: Service, timeout: float = 120.0) -> None:
    import httpx

    ready_url = mcp.health_url.replace("/health", "/ready")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise StackError(f"the MCP server was not ready within {timeout:.0f}s: see {ready_url}")


def endpoints() -> dict[str, str]:
    return {
        "MCP (Streamable HTTP)": f"http://127.0.0.1:{MCP_PORT}/mcp",
        "ingestion worker": f"http://127.0.0.1:{WORKER_PORT}",
        "fake GCS": "http://127.0.0.1:4443",
        "Cloud Tasks emulator": "127.0.0.1:8123 (gRPC), http://127.0.0.1:8124 (JWKS, health)",
    }
