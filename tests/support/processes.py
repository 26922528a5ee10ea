"""Start real servers (fake-gcs-server, the Cloud Tasks emulator, uvicorn apps) for tests."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from thoth.dev import loopback
from thoth.dev.loopback import free_port, running, wait_http

__all__ = ["fake_gcs", "free_port", "running", "wait_http"]

ROOT = Path(__file__).resolve().parents[2]


def fake_gcs(port: int | None = None, log: Path | None = None) -> AbstractContextManager[str]:
    """The real fake-gcs-server on loopback, in memory. Yields its URL."""
    return loopback.fake_gcs(ROOT / "emulators/fake-gcs/fake_gcs.py", port, log)
