"""Helpers for the Cloud Run emulator tests (a uniquely named module: several test folders
share one pytest run, so none imports another's conftest)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt

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


def script(name: str, module: str) -> list[str]:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", module]


def stop(process: subprocess.Popen[bytes]) -> None:
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
        # Imported here so the bench can use this module without the Cloud Tasks emulator.
        from cloud_tasks_emulator.oidc import TokenIssuer, load_signing_key

        token = TokenIssuer(self.url, self.key_file).id_token(email, audience)
        if not claims:
            return token
        payload = jwt.decode(token, options={"verify_signature": False}) | claims
        header = jwt.get_unverified_header(token)
        return jwt.encode(payload, load_signing_key(self.key_file), "RS256", headers=header)


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
        cpu_idle          = {cpu_idle}
        startup_cpu_boost = {startup_cpu_boost}
        limits = {{
          cpu    = "{cpu}"
          memory = "{memory}"
        }}
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
      env {{
        name  = "DECLARED_LITERAL"
        value = "from-terraform"
      }}
      env {{
        name  = "DECLARED_VARIABLE"
        value = var.declared
      }}
      env {{
        name = "DECLARED_SECRET"
        value_source {{
          secret_key_ref {{
            secret  = var.secret_name
            version = "latest"
          }}
        }}
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


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def without_probes(template: str) -> str:
    """`template` with no startup or liveness probe: Cloud Run's defaults apply."""
    kept: list[str] = []
    depth = 0
    for line in template.splitlines():
        if depth == 0 and line.strip() in ("startup_probe {{", "liveness_probe {{"):
            depth = 1
            continue
        if depth:
            depth += line.count("{{") - line.count("}}")
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"
