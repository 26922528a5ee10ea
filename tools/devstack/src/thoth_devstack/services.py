"""What the local stack runs: four processes on the ports in docs/design.md, all configured from
one `Settings` (the stack's), which is also what the CLI uses to reach them."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from fake_gcs_launcher import binary_path, build_command

from thoth.config import Settings

STATE_DIR = Path(".thoth/dev")
GCS_PORT, TASKS_PORT, TASKS_HTTP_PORT, WORKER_PORT, MCP_PORT = 4443, 8123, 8124, 8081, 8080
SOURCE = "handbook"
# Not settings of Thoth's, but what the libraries under it need on a machine with no cloud.
LIBRARY_ENV = {
    "HF_HUB_OFFLINE": "1",
    "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    "NO_GCE_CHECK": "true",
}


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    ports: tuple[int, ...]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)


SAMPLE_HANDBOOK = Path("examples/handbook")  # relative to the checkout, like STATE_DIR


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
        oidc_issuer=issuer,
        oidc_jwks_url=f"{issuer}/oauth2/v3/certs",
        index_poll_seconds=2,
        cache_dir=(state / "cache").resolve(),
        source_roots=[str(SAMPLE_HANDBOOK.resolve())],  # a `dir` source may use the sample
        port=MCP_PORT,
    )


def stack_env(state: Path) -> dict[str, str]:
    """The environment of every process of the stack (and of `thoth dev env`)."""
    return {**stack_settings(state).to_env(), **LIBRARY_ENV}


def services(state: Path) -> list[Service]:
    """In start order: emulators first, then the worker, then the MCP server."""
    settings = stack_settings(state)
    bin_dir = Path(sys.executable).parent
    tasks_port = _port(f"//{settings.cloud_tasks_emulator_host}")
    tasks_http_port = _port(settings.oidc_issuer)
    worker_port, gcs_port, mcp_port = (
        _port(settings.worker_url),
        _port(_gcs(settings)),
        settings.port,
    )
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
            [str(bin_dir / "cloud-tasks-emulator"), "--port", str(tasks_port),
             "--http-port", str(tasks_http_port), "--queue", settings.queue_path,
             "--log-format", "text"],
            (tasks_port, tasks_http_port),
            f"{settings.oidc_issuer}/health",
        ),
        Service(
            "ingestion",
            [str(bin_dir / "thoth"), "worker", "--port", str(worker_port)],
            (worker_port,),
            f"{settings.worker_url}/health",
            {"THOTH_CACHE_DIR": str(settings.cache_dir / "ingestion")},
        ),
        Service(
            "mcp",
            [sys.executable, "-m", "thoth.serve.mcp"],
            (mcp_port,),
            f"http://127.0.0.1:{mcp_port}/health",
            {"THOTH_CACHE_DIR": str(settings.cache_dir / "mcp")},
        ),
    ]  # fmt: skip


def _gcs(settings: Settings) -> str:
    assert settings.storage_emulator_host is not None
    return settings.storage_emulator_host


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port
