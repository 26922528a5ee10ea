"""The real worker app under a real uvicorn server, in a thread of the test process, so a
test can hand it a Context whose store or queue injects faults (tests.support.faults), while
the real Cloud Tasks emulator delivers to it over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from tests.support.processes import wait_http
from thoth.ingest.pipeline.context import Context
from thoth.ingest.tasks import Enqueuer
from thoth.ingest.worker.app import create_app


@contextmanager
def worker_in_thread(ctx: Context, port: int) -> Iterator[str]:
    app = create_app(ctx.settings, ctx)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="worker")
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health")
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class FaultyTasks:
    """The real queue, refusing enqueues whose task name contains `fail_names` entries
    (each once), the way a crash just before the enqueue would leave it."""

    def __init__(self, real: Enqueuer) -> None:
        self.real = real
        self.fail_names: list[str] = []
        self._lock = threading.Lock()

    def enqueue(
        self, name: str, path: str, payload: dict[str, Any], timeout: float | None = None
    ) -> bool:
        with self._lock:
            for part in self.fail_names:
                if part in name:
                    self.fail_names.remove(part)
                    raise ConnectionError(f"injected: crashed before enqueueing {name}")
        return self.real.enqueue(name, path, payload, timeout)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not happen within {timeout}s")
