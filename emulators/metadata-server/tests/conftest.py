"""Fixtures: the Cloud Tasks emulator (issuer + JWKS) and the metadata server emulator, both
started from their real CLIs with one shared signing key file."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mds_support import OTHER_SA, SA, free_port, script, stop, wait_http


@dataclass
class Stack:
    issuer: str
    key_file: Path
    metadata_port: int
    other_port: int

    @property
    def metadata_host(self) -> str:
        return f"127.0.0.1:{self.metadata_port}"

    @property
    def base(self) -> str:
        return f"http://{self.metadata_host}"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("metadata")
    key_file = tmp / "keys" / "signing.pem"
    grpc_port, http_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{http_port}"
    tasks = subprocess.Popen(
        [*script("cloud-tasks-emulator", "cloud_tasks_emulator"), "--port", str(grpc_port),
         "--http-port", str(http_port), "--signing-key", str(key_file)],
        stdout=(tmp / "tasks.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_http(issuer + "/health", tasks)
    port, other = free_port(), free_port()
    metadata = subprocess.Popen(
        [*script("metadata-server-emulator", "metadata_server_emulator"), "--port", str(port),
         "--service-account", SA, "--extra-identity", f"{other}={OTHER_SA}",
         "--issuer", issuer, "--signing-key", str(key_file), "--project-id", "local-project"],
        stdout=(tmp / "metadata.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_http(f"http://127.0.0.1:{port}/", metadata)
    wait_http(f"http://127.0.0.1:{other}/", metadata)
    yield Stack(issuer, key_file, port, other)
    stop(metadata)
    stop(tasks)
