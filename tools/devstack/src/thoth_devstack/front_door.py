"""The Cloud Run front doors of a local stack: the emulator's TOML configuration for Thoth's
two services, built from the stack's settings and the Terraform that deploys them.

Terraform gives the literal settings (timeout, concurrency, cpu_idle, probes); this module
maps what Terraform leaves to variables and resources (the invokers) to local identities.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cloud_run_emulator.environment import DEFAULT_INHERIT, inherited
from cloud_run_emulator.terraform import EnvKind, read_service

from thoth.config import Settings
from thoth_devstack.loopback import stop

REPO = Path(__file__).resolve().parents[4]
# Which Terraform the doors read (another checkout's, to compare revisions).
TERRAFORM = Path(os.environ.get("THOTH_TERRAFORM_MODULES", REPO / "terraform" / "modules"))
PUBLIC = "allUsers"
DEV_USER = "dev@thoth.local"  # the developer, as `thoth dev token` names them
DEPLOYER = "deployer@thoth-local.iam.gserviceaccount.com"
SCHEDULER = "thoth-scheduler@thoth-local.iam.gserviceaccount.com"
ADMIN_HEALTH = "/_emulator/health"  # the emulator's own status, never forwarded
RUNTIME_ENV_DROP = ("PORT", "THOTH_PORT")  # the front door gives the container its own $PORT
# Each instance has a cache of its own, as each Cloud Run instance has its own /tmp.
PRIVATE_DIRS = ["THOTH_CACHE_DIR"]
# Instances run here at most, where Terraform allows more: the worker's 10 (one batch each)
# would be ten model-loading processes on a laptop; two still run batches side by side.
LOCAL_MAX_INSTANCES = {"thoth-worker": 2}
# What a service gets locally beyond the variables its Terraform declares (the door gives a
# container nothing else, as Cloud Run does): the library settings the image's ENV sets, and
# the local stand-ins for what the cloud provides by other means. Anything else the code
# needs must be declared in terraform/modules/*/main.tf, or it fails here as it would there.
LOCAL_ENV = [
    "HF_*",  # the image's ENV: the model is read offline from the image
    "TRANSFORMERS_*",
    "GCSFS_*",
    "STORAGE_EMULATOR_HOST",  # the cloud's endpoints: GCS, Cloud Tasks, the metadata server
    "CLOUD_TASKS_EMULATOR_HOST",
    "GCE_METADATA_*",
    "NO_GCE_CHECK",
    "THOTH_OIDC_ISSUER",  # the local token issuer, where the cloud's is Google's
    "THOTH_OIDC_JWKS_URL",
    "THOTH_SOURCE_ROOTS",  # folders a local `dir` source may read; none in the cloud
]
# Where a local stack differs from a literal Terraform deploys, on purpose; every other
# literal (THOTH_AUTH=iam, ...) reaches the service as deployed. The service listens on
# loopback behind its door, and caches under the stack's own folder:
LOCAL_VALUES = ["THOTH_HOST", "THOTH_CACHE_DIR"]
# ... and text logs for people reading a terminal, where Terraform asks for json (the door's
# environment gives it, so `THOTH_LOG_FORMAT=json docker compose up` still works):
LOCAL_OVERRIDES = ["THOTH_LOG_FORMAT"]


@dataclass(frozen=True)
class DoorService:
    """One service behind the front door."""

    name: str  # K_SERVICE
    terraform: Path
    port: int  # where the front door listens
    command: list[str]
    env: Mapping[str, str]
    issuers: Sequence[str]
    members: Mapping[str, Sequence[str]]
    extra: Mapping[str, Any] = field(default_factory=dict)  # idle_seconds, overrides, ...


def worker_members(settings: Settings, users: Sequence[str] = (DEV_USER,)) -> dict[str, list[str]]:
    """The worker's invokers as Terraform grants them: the tasks and scheduler identities,
    the deployer and the listed people."""
    return {
        "google_service_account.tasks.member": [f"serviceAccount:{settings.tasks_service_account}"],
        "google_service_account.scheduler.member": [f"serviceAccount:{SCHEDULER}"],
        "var.deployer_member": [f"serviceAccount:{DEPLOYER}"],
        "var.invoker_members": [f"user:{user}" for user in users],
    }


def mcp_members(users: Sequence[str] | None) -> dict[str, list[str]]:
    """The MCP server's invokers; None opens the door (the local counterpart of
    `gcloud run services proxy`, which adds the caller's token for them)."""
    invokers = [PUBLIC] if users is None else [f"user:{user}" for user in users]
    return {"var.invoker_members": invokers, "var.deployer_member": [f"serviceAccount:{DEPLOYER}"]}


def container_env(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in settings.to_env().items() if k not in RUNTIME_ENV_DROP}
    return {**env, **(extra or {})}


def render(services: Sequence[DoorService]) -> str:
    """The emulator's TOML configuration (strings and lists written as JSON, which TOML's
    basic strings and arrays accept)."""
    lines: list[str] = []
    for service in services:
        lines += [
            "[[service]]",
            f"name = {json.dumps(service.name)}",
            f"terraform = {json.dumps(str(service.terraform))}",
            f"port = {service.port}",
            f"url = {json.dumps(f'http://127.0.0.1:{service.port}')}",
            f"command = {json.dumps(service.command)}",
            f"issuers = {json.dumps(list(service.issuers))}",
        ]
        extra = {
            "private_dirs": PRIVATE_DIRS,
            "inherit": LOCAL_ENV,
            "env_overrides": LOCAL_OVERRIDES,
            **service.extra,
        }
        lines += [_line(key, value) for key, value in extra.items() if key != "overrides"]
        lines.append(f"[service.members]\n{_table(service.members)}")
        lines.append(f"[service.env]\n{_table(declared_env(service))}")
        overrides = _local_overrides(service)
        if overrides:
            lines.append(f"[service.overrides]\n{_table(overrides)}")
    return "\n".join(lines) + "\n"


def declared_env(service: DoorService) -> dict[str, str]:
    """The settings written to the door's `[service.env]`, which the door passes on as
    written: the ones Terraform leaves to a variable or a secret, the LOCAL_* ones and the
    LOCAL_ENV stand-ins. A setting Terraform does not declare is left out, as is one it sets
    to a literal (the door then gives the deployed value)."""
    chosen = {*LOCAL_VALUES, *LOCAL_OVERRIDES}
    for var in read_service(service.terraform).env:
        if var.kind is not EnvKind.LITERAL:
            chosen.add(var.name)
    patterns = (*DEFAULT_INHERIT, *LOCAL_ENV)
    return {
        name: value
        for name, value in service.env.items()
        if name in chosen or inherited(name, patterns)
    }


def _local_overrides(service: DoorService) -> dict[str, Any]:
    cap = LOCAL_MAX_INSTANCES.get(service.name)
    overrides = {"max_instances": cap} if cap else {}
    return {**overrides, **service.extra.get("overrides", {})}


def _line(key: str, value: Any) -> str:
    return f"{key} = {json.dumps(value)}"


def _table(values: Mapping[str, Any]) -> str:
    return "\n".join(f"{json.dumps(k)} = {_value(v)}" for k, v in values.items())


def _value(value: Any) -> str:
    if isinstance(value, Mapping):  # a TOML inline table
        return "{ " + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def command(config: Path) -> list[str]:
    exe = Path(sys.executable).with_name("cloud-run-emulator")
    return [str(exe), "--config", str(config), "--log-format", "text"]


def door_health(port: int) -> dict[str, Any]:
    answer = httpx.get(f"http://127.0.0.1:{port}{ADMIN_HEALTH}", timeout=2)
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


@contextmanager
def running(
    services: Sequence[DoorService], directory: Path, *, ready: bool = True, timeout: float = 120
) -> Iterator[subprocess.Popen[bytes]]:
    """The front door for `services` as long as the block lasts; with `ready`, once every
    service's startup probe has passed."""
    config = directory / "cloud-run.toml"
    config.write_text(render(services))
    log = (directory / "cloud-run.log").open("ab")
    proc = subprocess.Popen(command(config), stdout=log, stderr=subprocess.STDOUT, env=os.environ)
    try:
        for service in services:
            wait_state(proc, service.port, {"ready"} if ready else {"ready", "starting", "down"},
                       timeout, directory / "cloud-run.log")  # fmt: skip
        yield proc
    finally:
        stop(proc, timeout=20)
        log.close()


def wait_state(
    proc: subprocess.Popen[bytes], port: int, states: set[str], timeout: float, log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the front door exited:\n{log.read_text()[-3000:]}")
        try:
            if door_health(port)["state"] in states:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"front door on {port} not {states} within {timeout}s; see {log}")
