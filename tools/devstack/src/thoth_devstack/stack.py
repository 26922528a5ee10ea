"""`thoth dev up|down|status`: the local stack as background processes (`make up`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from thoth.ingest.tasks import TaskQueue
from thoth.ingest.webhook.app import WEBHOOK_PATH
from thoth_devstack.processes import StackError, healthy, read_running, start, stop, wait_healthy
from thoth_devstack.services import (
    GITLAB_PROJECT,
    GITLAB_TOKEN,
    METADATA_PORT,
    WEBHOOK_PORT,
    services,
    stack_env,
    stack_settings,
)
from thoth_devstack.tokens import TokenUnavailable, iam_headers

Say = Callable[[str], None]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    healthy: bool
    ports: tuple[int, ...]
    log: Path


def status(state: Path) -> list[ServiceStatus]:
    rows = []
    for service in services(state):
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


def up(state: Path, say: Say) -> bool:
    """Start whatever is not running. False when the whole stack was already up."""
    rows = status(state)
    if all(row.healthy for row in rows):
        return False
    if any(row.pid for row in rows):
        say("found a partly running stack (a crash?): restarting it")
        down(state, lambda _: None)
    env = stack_env(state)
    for service in services(state):
        say(f"starting {service.name} on {', '.join(map(str, service.ports))}")
        running = start(state, service, env)
        try:
            wait_healthy(state, service, running.pid)
        except StackError:
            down(state, lambda _: None)
            raise
        if service.name == "cloud-tasks":
            TaskQueue(stack_settings(state)).ensure_queue()
    return True


def down(state: Path, say: Say) -> None:
    for service in reversed(services(state)):
        if stop(state, service.name):
            say(f"stopped {service.name}")


def wait_searchable(state: Path, timeout: float = 120.0) -> None:
    """Until the MCP server answers /ready through its front door (with the developer's ID
    token, which an open door ignores and a private one needs)."""
    base = f"http://127.0.0.1:{stack_settings(state).port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}/ready", headers=iam_headers(base), timeout=10)
            if answer.status_code == 200:
                return
        except (httpx.HTTPError, TokenUnavailable):
            pass
        time.sleep(0.5)
    raise StackError(f"the MCP server was not ready within {timeout:.0f}s: see {base}/ready")


def endpoints(state: Path) -> dict[str, str]:
    settings = stack_settings(state)
    return {
        "MCP (Streamable HTTP)": f"http://127.0.0.1:{settings.port}/mcp",
        "ingestion worker": settings.worker_url,
        "fake GCS": str(settings.storage_emulator_host),
        "Cloud Tasks emulator": f"{settings.cloud_tasks_emulator_host} (gRPC), "
        f"{settings.oidc_issuer} (JWKS, health)",
        "metadata server": f"http://127.0.0.1:{METADATA_PORT} (ID tokens: thoth dev token)",
        "local GitLab": f"{settings.gitlab_url}/{GITLAB_PROJECT}.git "
        f"(token {GITLAB_TOKEN}; a push to main re-ingests through the webhook)",
        "webhook receiver": f"http://127.0.0.1:{WEBHOOK_PORT}{WEBHOOK_PATH} (public)",
    }
