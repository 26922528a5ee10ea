"""What the local stack runs: seven processes on the ports in docs/design.md, all configured
from one `Settings` (the stack's), which is also what the CLI uses to reach them."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from fake_gcs_launcher import binary_path, build_command
from pydantic import SecretStr

from thoth.config import Settings
from thoth.ingest.webhook.app import WEBHOOK_PATH
from thoth_devstack import front_door
from thoth_devstack.front_door import DEV_USER, DoorService

# In the checkout, not the working directory: `thoth dev status` from anywhere finds the stack.
STATE_DIR = front_door.REPO / ".thoth" / "dev"
GCS_PORT, TASKS_PORT, TASKS_HTTP_PORT, WORKER_PORT, MCP_PORT = 4443, 8123, 8124, 8081, 8080
METADATA_PORT = 8125
GITLAB_PORT, WEBHOOK_PORT = 8929, 8082
# The sample handbook as a project of the local GitLab, and the stack's local-only secrets
# (the emulator's access token, the webhook's X-Gitlab-Token): nothing outside this machine
# accepts them.
GITLAB_PROJECT = "group/handbook"
GITLAB_TOKEN = "glpat-thoth-local"  # noqa: S105 (the local GitLab's dev token)
WEBHOOK_TOKEN = "thoth-local-webhook-token"  # noqa: S105 (the local hook's secret)
MCP_IAM_ENV = "THOTH_DEV_MCP_IAM"
SOURCE = "handbook"
# Not settings of Thoth's, but what the libraries under it need on a machine with no cloud.
LIBRARY_ENV = {
    "HF_HUB_OFFLINE": "1",
    "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    "NO_GCE_CHECK": "true",
    # google-auth asks this metadata server for service identities (it reads both names).
    "GCE_METADATA_HOST": f"127.0.0.1:{METADATA_PORT}",
    "GCE_METADATA_IP": f"127.0.0.1:{METADATA_PORT}",
}


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    ports: tuple[int, ...]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)


SAMPLE_HANDBOOK = front_door.REPO / "examples" / "handbook"


def stack_settings(state: Path) -> Settings:
    """The stack's one configuration: every process, and the CLI, use it."""
    issuer = f"http://127.0.0.1:{TASKS_HTTP_PORT}"
    return Settings(
        project="thoth-local",
        location="us-central1",
        bucket="thoth",
        queue="thoth-ingest",
        storage_emulator_host=f"http://127.0.0.1:{GCS_PORT}",
        cloud_tasks_emulator_host=f"127.0.0.1:{TASKS_PORT}",
        worker_url=f"http://127.0.0.1:{WORKER_PORT}",
        worker_callers=[DEV_USER],
        oidc_issuer=issuer,
        oidc_jwks_url=f"{issuer}/oauth2/v3/certs",
        index_poll_seconds=2,
        cache_dir=(state / "cache").resolve(),
        source_roots=[str(SAMPLE_HANDBOOK.resolve())],  # a `dir` source may use the sample
        gitlab_url=f"http://127.0.0.1:{GITLAB_PORT}",
        gitlab_token=SecretStr(GITLAB_TOKEN),
        webhook_source=SOURCE,
        webhook_project=GITLAB_PROJECT,
        webhook_token=SecretStr(WEBHOOK_TOKEN),
        port=MCP_PORT,
    )


def stack_env(state: Path) -> dict[str, str]:
    """The environment of every process of the stack (and of `thoth dev env`)."""
    return {**stack_settings(state).to_env(), **LIBRARY_ENV}


def services(state: Path) -> list[Service]:
    """In start order: the emulators, then the worker, the webhook receiver and the MCP
    server, each behind its Cloud Run front door (which starts the service itself on a
    private port)."""
    settings = stack_settings(state)
    bin_dir = Path(sys.executable).parent
    gcs_port = _port(_gcs(settings))
    key = str(signing_key(state))
    return [
        Service(
            "fake-gcs",
            build_command(binary_path(), "127.0.0.1", gcs_port, f"127.0.0.1:{gcs_port}",
                          str((state / "gcs").resolve())),
            (gcs_port,),
            f"{_gcs(settings)}/storage/v1/b",
        ),
        Service(
            "cloud-tasks",
            [str(bin_dir / "cloud-tasks-emulator"), "--port", str(TASKS_PORT),
             "--http-port", str(TASKS_HTTP_PORT), "--queue", settings.queue_path,
             "--log-format", "text", "--signing-key", key],
            (TASKS_PORT, TASKS_HTTP_PORT),
            f"{settings.oidc_issuer}/health",
        ),
        Service(
            "metadata",
            [str(bin_dir / "metadata-server-emulator"), "--port", str(METADATA_PORT),
             "--issuer", settings.oidc_issuer, "--signing-key", key,
             "--project-id", settings.project],
            (METADATA_PORT,),
            f"http://127.0.0.1:{METADATA_PORT}/emulator/v1/health",
        ),
        _gitlab(state),
        _door(state, "ingestion", _worker_door(state, settings)),
        _door(state, "webhook", _webhook_door(settings)),
        _door(state, "mcp", _mcp_door(state, settings)),
    ]  # fmt: skip


def signing_key(state: Path) -> Path:
    """The local issuer's key: Cloud Tasks tokens, service and user tokens all verify
    against the one JWKS the Cloud Tasks emulator publishes."""
    return (state / "issuer-key.pem").resolve()


def mcp_iam_enforced() -> bool:
    """MCP's door is open locally unless THOTH_DEV_MCP_IAM=1 asks for IAM as deployed."""
    return os.environ.get(MCP_IAM_ENV, "") in {"1", "true", "yes"}


def _worker_door(state: Path, settings: Settings) -> DoorService:
    bin_dir = Path(sys.executable).parent
    cache = {"THOTH_CACHE_DIR": str(settings.cache_dir / "ingestion"), **LIBRARY_ENV}
    return DoorService(
        name="thoth-worker",
        terraform=front_door.TERRAFORM / "ingestion" / "main.tf",
        port=WORKER_PORT,
        command=[str(bin_dir / "thoth"), "worker"],
        env=front_door.container_env(settings, cache),
        issuers=[settings.oidc_issuer],
        members=front_door.worker_members(settings, [DEV_USER]),
    )


def _gitlab(state: Path) -> Service:
    """The local GitLab with the sample handbook committed as GITLAB_PROJECT (on first start;
    later starts keep its history) and a push webhook to the receiver's door."""
    bin_dir = Path(sys.executable).parent
    return Service(
        "gitlab",
        [str(bin_dir / "gitlab-emulator"), "--port", str(GITLAB_PORT),
         "--data-dir", str((state / "gitlab").resolve()), "--project", GITLAB_PROJECT,
         "--seed-dir", str(SAMPLE_HANDBOOK.resolve()),
         "--hook", f"http://127.0.0.1:{WEBHOOK_PORT}{WEBHOOK_PATH}",
         "--hook-branch-filter", "main"],
        (GITLAB_PORT,),
        f"http://127.0.0.1:{GITLAB_PORT}/-/health",
        # Secrets by environment, not on the command line (which `ps` shows).
        env={"GITLAB_EMULATOR_TOKENS": GITLAB_TOKEN, "GITLAB_EMULATOR_HOOK_TOKEN": WEBHOOK_TOKEN},
    )  # fmt: skip


def _webhook_door(settings: Settings) -> DoorService:
    """The public receiver: Terraform disables its invoker check, so the door lets anyone in."""
    return DoorService(
        name="thoth-webhook",
        terraform=front_door.TERRAFORM / "webhook" / "main.tf",
        port=WEBHOOK_PORT,
        command=[sys.executable, "-m", "thoth.ingest.webhook"],
        env=front_door.container_env(settings, LIBRARY_ENV),
        issuers=[settings.oidc_issuer],
        members={},
    )


def _mcp_door(state: Path, settings: Settings) -> DoorService:
    cache = {"THOTH_CACHE_DIR": str(settings.cache_dir / "mcp"), **LIBRARY_ENV}
    return DoorService(
        name="thoth-mcp",
        terraform=front_door.TERRAFORM / "mcp" / "main.tf",
        port=settings.port,
        command=[sys.executable, "-m", "thoth.serve.mcp"],
        env=front_door.container_env(settings, cache),
        issuers=[settings.oidc_issuer],
        members=front_door.mcp_members([DEV_USER] if mcp_iam_enforced() else None),
    )


def _door(state: Path, name: str, door: DoorService) -> Service:
    config = state / f"front-door-{name}.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(front_door.render([door]))
    return Service(
        name,
        front_door.command(config.resolve()),
        (door.port,),
        f"http://127.0.0.1:{door.port}{front_door.ADMIN_HEALTH}",
    )


def _gcs(settings: Settings) -> str:
    assert settings.storage_emulator_host is not None
    return settings.storage_emulator_host


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port
