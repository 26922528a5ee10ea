"""Fixtures: the Cloud Tasks emulator as the token issuer (shared signing key), and a factory
that starts the Cloud Run emulator's real CLI in front of tests/crun_app.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from crun_support import (
    HERE,
    SA_TASKS,
    TF_TEMPLATE,
    USER,
    FrontDoor,
    Issuer,
    free_port,
    script,
    stop,
    toml_value,
    wait_for,
)


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    """The real Cloud Tasks emulator, serving the JWKS of a shared signing key file."""
    tmp = tmp_path_factory.mktemp("issuer")
    key_file = tmp / "signing.pem"
    grpc_port, http_port = free_port(), free_port()
    command = [
        *script("cloud-tasks-emulator", "cloud_tasks_emulator"),
        "--port", str(grpc_port),
        "--http-port", str(http_port),
        "--signing-key", str(key_file),
    ]  # fmt: skip
    log = (tmp / "tasks.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http_port}"

    def healthy() -> bool:
        try:
            return httpx.get(url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy)
    yield Issuer(url, key_file)
    stop(process)


def _door_env(changes: dict[str, str | None]) -> dict[str, str]:
    """The door's environment: this process's, the template's secret, then `changes` (None
    removes a name)."""
    env: dict[str, str | None] = {**os.environ, "DECLARED_SECRET": "s3cret", **changes}
    return {name: value for name, value in env.items() if value is not None}


@pytest.fixture
def front_door(tmp_path: Path, issuer: Issuer) -> Iterator[Callable[..., FrontDoor]]:
    started: list[FrontDoor] = []

    def start(
        *,
        timeout: float = 30,
        concurrency: int = 80,
        cpu_idle: bool = False,
        memory: str = "512Mi",
        cpu: str = "1",
        startup_cpu_boost: bool = False,
        invokers: tuple[str, ...] = (f"user:{USER}",),
        env: dict[str, str] | None = None,
        wait_ready: bool = True,
        template: str = TF_TEMPLATE,
        door_env: dict[str, str | None] | None = None,
        **extra: Any,
    ) -> FrontDoor:
        port = free_port()
        tf = tmp_path / f"svc-{port}.tf"
        tf.write_text(
            template.format(
                timeout=timeout,
                concurrency=concurrency,
                cpu_idle=str(cpu_idle).lower(),
                memory=memory,
                cpu=cpu,
                startup_cpu_boost=str(startup_cpu_boost).lower(),
            )
        )
        command = [sys.executable, "-m", "uvicorn", "crun_app:app", "--port", "$PORT"]
        lines = [
            "[[service]]",
            'name = "svc"',
            f"port = {port}",
            f'terraform = "{tf.name}"',
            # uvicorn reads PORT through the shell, like a container's CMD would.
            f'command = ["sh", "-c", {toml_value("exec " + " ".join(command))}]',
            f'workdir = "{HERE}"',
            f"issuers = [{toml_value(issuer.url)}]",
            *(f"{k} = {toml_value(v)}" for k, v in extra.items()),
            "[service.members]",
            f'"google_service_account.tasks.member" = ["serviceAccount:{SA_TASKS}"]',
            f'"var.invoker_members" = {toml_value(list(invokers))}',
            "[service.env]",
            *(f"{k} = {toml_value(v)}" for k, v in (env or {}).items()),
        ]
        config = tmp_path / f"cloud-run-{port}.toml"
        config.write_text("\n".join(lines) + "\n")
        log_path = tmp_path / f"front-door-{port}.log"
        process = subprocess.Popen(
            [*script("cloud-run-emulator", "cloud_run_emulator"), "--config", str(config),
             "--log-format", "text"],
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            env=_door_env(door_env or {}),
        )  # fmt: skip
        door = FrontDoor(process, port, log_path)
        started.append(door)

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"emulator exited: {log_path.read_text()}")
            try:
                state = door.status()["state"]
            except httpx.HTTPError:
                return False
            return state == "ready" or not wait_ready

        wait_for(up, timeout=30)
        return door

    yield start
    for door in started:
        stop(door.process)
