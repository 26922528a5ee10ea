"""Start real servers (fake-gcs-server, the Cloud Tasks emulator, uvicorn apps) for tests."""

from __future__ import annotations

from thoth_devstack.loopback import fake_gcs, free_port, running, wait_http

__all__ = ["fake_gcs", "free_port", "running", "wait_http"]
