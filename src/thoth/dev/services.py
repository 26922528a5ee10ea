"""What the local stack runs: four processes on the ports in DESIGN, one shared configuration."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

STATE_DIR = Path(".thoth/dev")
GCS_PORT, TASKS_PORT, TASKS_HTTP_PORT, WORKER_PORT, MCP_PORT = 4443, 8123, 8124, 8081, 8080
SOURCE = "handbook"


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    ports: tuple[int, ...]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)


def stack_env(state: Path) -> dict[str, str]:
    """The settings every process and the CLI share (names from thoth.config.Settings)."""
    return {
        "THOTH_PROJECT": "thoth-local",
        "THOTH_LOCATION": "us-central1",
        "THOTH_BUCKET": "thoth",
        "THOTH_QUEUE": "thoth-ingest",
        "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{GCS_PORT}",
        "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{TASKS_PORT}",
        "THOTH_WORKER_URL": f"http://127.0.0.1:{WORKER_PORT}",
        "THOTH_OIDC_ISSUER": f"http://127.0.0.1:{TASKS_HTTP_PORT}",
        "THOTH_OIDC_JWKS_URL": f"http://127.0.0.1:{TASKS_HTTP_PORT}/oauth2/v3/certs",
        "THOTH_INDEX_POLL_SECONDS": "2",
        "THOTH_CACHE_DIR": str((state / "cache").resolve()),
        "HF_HUB_OFFLINE": "1",
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        "NO_GCE_CHECK": "true",
    }


def services(state: Path, repo: Path) -> list[Service]:
    """In start order: emulators first, then the worker, then the MCP server."""
    bin_dir = Path(sys.executable).parent
    queue = "projects/thoth-local/locations/us-central1/queues/thoth-ingest"
    return [
        Service(
            "fake-gcs",
            fake_gcs_command(repo, state),
            (GCS_PORT,),
            f"http://127.0.0.1:{GCS_PORT}/storage/v1/b",
        ),
        Service(
            "cloud-tasks",
            [str(bin_dir / "cloud-tasks-emulator"), "--port", str(TASKS_PORT),
             "--http-port", str(TASKS_HTTP_PORT), "--queue", queue, "--log-format", "text"],
            (TASKS_PORT, TASKS_HTTP_PORT),
            f"http://127.0.0.1:{TASKS_HTTP_PORT}/health",
        ),
        Service(
            "ingestion",
            [str(bin_dir / "thoth"), "worker", "--port", str(WORKER_PORT)],
            (WORKER_PORT,),
            f"http://127.0.0.1:{WORKER_PORT}/health",
            {"THOTH_CACHE_DIR": str((state / "cache/ingestion").resolve())},
        ),
        Service(
            "mcp",
            [sys.executable, "-m", "thoth.mcp"],
            (MCP_PORT,),
            f"http://127.0.0.1:{MCP_PORT}/health",
            {"THOTH_CACHE_DIR": str((state / "cache/mcp").resolve()), "PORT": str(MCP_PORT)},
        ),
    ]  # fmt: skip


def fake_gcs_command(repo: Path, state: Path) -> list[str]:
    """The fake-gcs-server binary itself (not its launcher), so its pid is the server's."""
    launcher = _load(repo / "emulators/fake-gcs/fake_gcs.py")
    public_host = f"127.0.0.1:{GCS_PORT}"
    root = str((state / "gcs").resolve())
    command: list[str] = launcher.build_command(
        launcher.binary_path(), "127.0.0.1", GCS_PORT, public_host, root
    )
    return command


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("fake_gcs_launcher", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
