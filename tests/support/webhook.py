"""The webhook receiver as a real uvicorn process, and a real HTTP server standing in for
the worker's PUSH_PATH that records what Cloud Tasks delivers to it."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.processes import running
from thoth.config import Settings


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class StandInWorker:
    """Answers 200 to every POST and remembers it."""

    url: str
    deliveries: list[Delivery] = field(default_factory=list)

    def for_event(self, event_uuid: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.body.get("event_uuid") == event_uuid]

    def wait_for(self, event_uuid: str, timeout: float = 20.0) -> Delivery:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.for_event(event_uuid)
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no task for event {event_uuid} within {timeout}s")


@contextmanager
def stand_in_worker(port: int) -> Iterator[StandInWorker]:
    worker = StandInWorker(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            worker.deliveries.append(Delivery(self.path, dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def webhook_receiver(settings: Settings, port: int, log: Path) -> Iterator[str]:
    """`thoth serve-webhook` on `port` with `settings` (its token included)."""
    command = [sys.executable, "-m", "thoth.cli.main", "serve-webhook", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/health", env=settings.to_env(), log=log, timeout=60):
        yield url
