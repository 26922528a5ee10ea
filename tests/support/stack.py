"""A real local stack for integration tests: the Cloud Tasks emulator and the ingestion worker
as subprocesses, beside the session's fake-gcs-server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloud_tasks_emulator.oidc import TokenIssuer
from pydantic import SecretStr
from thoth_devstack import front_door
from thoth_devstack.front_door import DoorService

from tests.support.processes import free_port, running
from thoth.config import Settings
from thoth.ingest.tasks import TaskQueue

PROJECT, LOCATION, QUEUE = "thoth-test", "us-central1", "ingest"


CALLER = "tester@example.com"  # the person the tests call the worker's /v1 API as


@dataclass(frozen=True)
class Emulator:
    grpc_address: str
    http_url: str
    signing_key: Path

    @property
    def jwks_url(self) -> str:
        return f"{self.http_url}/oauth2/v3/certs"

    def id_token(self, email: str, audience: str) -> str:
        """A token from the emulator's issuer, as Google would give `email` for `audience`
        (the tests play the identity provider, with the emulator's own key)."""
        return TokenIssuer(self.http_url, self.signing_key).id_token(email, audience)

    def caller_headers(self, settings: Settings, email: str = CALLER) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.id_token(email, settings.worker_audience)}"}


@contextmanager
def cloud_tasks_emulator(*fault_args: str, log: Path | None = None) -> Iterator[Emulator]:
    grpc_port, http_port = free_port(), free_port()
    key = Path(tempfile.mkdtemp(prefix="thoth-issuer-")) / "signing-key.pem"
    beside_python = Path(sys.executable).with_name("cloud-tasks-emulator")
    exe = shutil.which("cloud-tasks-emulator") or str(beside_python)
    command = [
        exe,
        "--port", str(grpc_port),
        "--http-port", str(http_port),
        "--queue", f"projects/{PROJECT}/locations/{LOCATION}/queues/{QUEUE}",
        "--log-format", "text",
        "--signing-key", str(key),
        *fault_args,
    ]  # fmt: skip
    http_url = f"http://127.0.0.1:{http_port}"
    with running(command, f"{http_url}/health", log=log):
        yield Emulator(f"127.0.0.1:{grpc_port}", http_url, key)


def stack_settings(base: Settings, emulator: Emulator, worker_port: int) -> Settings:
    """Settings for a worker and the tests beside it; configures the emulator's queue."""
    settings = base.model_copy(
        update={
            "project": PROJECT,
            "location": LOCATION,
            "queue": QUEUE,
            "cloud_tasks_emulator_host": emulator.grpc_address,
            "worker_url": f"http://127.0.0.1:{worker_port}",
            "auth": "jwks",  # no front door here: the worker checks signatures itself
            "worker_callers": [CALLER],
            "oidc_issuer": emulator.http_url,
            "oidc_jwks_url": emulator.jwks_url,
            "batch_files": 4,
        }
    )
    TaskQueue(settings).ensure_queue()
    return settings


@dataclass(frozen=True)
class Worker:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def ingestion_worker(settings: Settings, port: int, log: Path | None = None) -> Iterator[Worker]:
    command = [sys.executable, "-m", "thoth.cli.main", "worker", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/health", env=settings.to_env(), log=log) as process:
        yield Worker(url, process)


@dataclass(frozen=True)
class FrontedWorker:
    """The worker behind the Cloud Run front-door emulator (settings from Terraform)."""

    url: str
    port: int

    def container_pids(self) -> set[int]:
        """The main process of every instance running now."""
        instances = front_door.door_health(self.port)["instances"]
        return {i["pid"] for i in instances if isinstance(i["pid"], int)}


# Terraform gives the worker its GitLab token as a secret, and Cloud Run (so the front door)
# does not start an instance without it: a worker that never reaches GitLab gets this one.
UNUSED_GITLAB_TOKEN = SecretStr("glpat-not-used-by-this-test")


def door_settings(settings: Settings) -> Settings:
    """`settings` as the worker behind a front door has them: behind IAM, with its secrets."""
    token = settings.gitlab_token or UNUSED_GITLAB_TOKEN
    return settings.model_copy(update={"auth": "iam", "gitlab_token": token})


@contextmanager
def fronted_worker(
    settings: Settings,
    port: int,
    emulator: Emulator,
    workdir: Path,
    extra: dict[str, Any] | None = None,
) -> Iterator[FrontedWorker]:
    """The worker as Cloud Run runs it: private, behind IAM, the tasks identity an invoker.
    `settings.worker_url` must be the door's URL (port `port`), the audience tasks carry;
    `extra` is the door's further configuration of the service (`overrides` of what
    Terraform sets, `inherit`, ...)."""
    door = DoorService(
        name="thoth-worker",
        terraform=front_door.TERRAFORM / "ingestion" / "main.tf",
        port=port,
        command=[sys.executable, "-m", "thoth.cli.main", "worker"],
        env=front_door.container_env(door_settings(settings)),
        issuers=[emulator.http_url],
        members=front_door.worker_members(settings, [CALLER]),
        extra=extra or {},
    )
    workdir.mkdir(parents=True, exist_ok=True)
    with front_door.running([door], workdir):
        yield FrontedWorker(f"http://127.0.0.1:{port}", port)
