"""A container for the pool tests: listens after STARTUP_DELAY seconds, answers every GET
with its pid, fails /health while the file HEALTH_FLAG exists, and on SIGTERM keeps serving
for SLOW_TERM seconds before it exits (a graceful shutdown that takes a while)."""

from __future__ import annotations

import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLOW_TERM = float(os.environ.get("SLOW_TERM", "0"))
FLAG = os.environ.get("HEALTH_FLAG")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        failing = self.path == "/health" and FLAG is not None and os.path.exists(FLAG)
        body = b"" if failing else str(os.getpid()).encode()
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _terminate(*_: object) -> None:
    def exit_later() -> None:
        time.sleep(SLOW_TERM)
        os._exit(0)

    threading.Thread(target=exit_later, daemon=True).start()


signal.signal(signal.SIGTERM, _terminate)
time.sleep(float(os.environ.get("STARTUP_DELAY", "0")))
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
