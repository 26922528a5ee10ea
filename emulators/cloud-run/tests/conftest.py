"""Fixtures: the Cloud Tasks emulator as the token issuer (shared signing key), and a factory
that starts the Cloud Run emulator's real CLI in front of tests/crun_app.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cloud_tasks_emulator.oidc import TokenIssuer, load_signing_key

HERE = Path(__file__).parent
SA_TASKS = "tasks@local-project.iam.gserviceaccount.com"
USER = "dev@example.com"
STRANGER = "stranger@example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def _script(name: str, module: str) -> list[str]:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", module]


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Issuer:
    url: str
    key_file: Path

    def token(self, email: str, audience: str, **claims: Any) -> str:
        """An ID token from the shared key, as the Cloud Tasks emulator mints them."""
        token = TokenIssuer(self.url, self.key_file).id_token(email, audience)
        if not claims:
            return token
        payload = jwt.decode(token, options={"verify_signature": False}) | claims
        header = jwt.get_unverified_header(token)
        return jwt.encode(payload, load_signing_key(self.key_file), "RS256", headers=header)


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    """The real Cloud Tasks emulator, serving the JWKS of a shared signing key file."""
    tmp = tmp_path_factory.mktemp("issuer")
    key_file = tmp / "signing.pem"
    grpc_port, http_port = free_port(), free_port()
    command = [
        *_script("cloud-tasks-emulator", "cloud_tasks_emulator"),
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
    _stop(process)


TF_TEMPLATE = """
resource "google_cloud_run_v2_service" "svc" {{
  name     = var.service_name
  template {{
    timeout                          = "{timeout}s"
    max_instance_request_concurrency = {concurrency}
    scaling {{
      min_instance_count = 0
      max_instance_count = 2
    }}
    containers {{
      image = var.image
      resources {{
        cpu_idle = {cpu_idle}
      }}
      startup_probe {{
        http_get {{
          path = "/health"
        }}
        initial_delay_seconds = 0
        period_seconds        = 0.2
        timeout_seconds       = 1
        failure_threshold     = 50
      }}
      liveness_probe {{
        http_get {{
          path = "/health"
        }}
        period_seconds    = 0.3
        timeout_seconds   = 1
        failure_threshold = 2
      }}
    }}
  }}
}}

resource "google_cloud_run_v2_service_iam_member" "tasks" {{
  name   = google_cloud_run_v2_service.svc.name
  role   = "roles/run.invoker"
  member = google_service_account.tasks.member
}}

resource "google_cloud_run_v2_service_iam_member" "invoker" {{
  for_each = toset(var.invoker_members)
  name     = google_cloud_run_v2_service.svc.name
  role     = "roles/run.invoker"
  member   = each.key
}}
"""


@dataclass
class FrontDoor:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def status(self) -> dict[str, Any]:
        return httpx.get(self.url + "/_emulator/health", timeout=5).json()  # type: ignore[no-any-return]

    def logs(self) -> str:
        return self.log_path.read_text()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


@pytest.fixture
def front_door(tmp_path: Path, issuer: Issuer) -> Iterator[Callable[..., FrontDoor]]:
    started: list[FrontDoor] = []

    def start(
        *,
        timeout: float = 30,
        concurrency: int = 80,
        cpu_idle: bool = False,
        invokers: tuple[str, ...] = (f"user:{USER}",),
        env: dict[str, str] | None = None,
        wait_ready: bool = True,
        **extra: Any,
    ) -> FrontDoor:
        port = free_port()
        tf = tmp_path / f"svc-{port}.tf"
        tf.write_text(
            TF_TEMPLATE.format(
                timeout=timeout, concurrency=concurrency, cpu_idle=str(cpu_idle).lower()
            )
        )
        command = [sys.executable, "-m", "uvicorn", "crun_app:app", "--port", "$PORT"]
        lines = [
            "[[service]]",
            'name = "svc"',
            f"port = {port}",
            f'terraform = "{tf.name}"',
            # uvicorn reads PORT through the shell, like a container's CMD would.
            f'command = ["sh", "-c", {_toml_value("exec " + " ".join(command))}]',
            f'workdir = "{HERE}"',
            f"issuers = [{_toml_value(issuer.url)}]",
            *(f"{k} = {_toml_value(v)}" for k, v in extra.items()),
            "[service.members]",
            f'"google_service_account.tasks.member" = ["serviceAccount:{SA_TASKS}"]',
            f'"var.invoker_members" = {_toml_value(list(invokers))}',
            "[service.env]",
            *(f"{k} = {_toml_value(v)}" for k, v in (env or {}).items()),
        ]
        config = tmp_path / f"cloud-run-{port}.toml"
        config.write_text("\n".join(lines) + "\n")
        log_path = tmp_path / f"front-door-{port}.log"
        process = subprocess.Popen(
            [*_script("cloud-run-emulator", "cloud_run_emulator"), "--config", str(config),
             "--log-format", "text"],
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            env={**os.environ},
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
        _stop(door.process)
