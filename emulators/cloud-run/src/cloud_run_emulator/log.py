"""One line per request (Cloud Logging's httpRequest shape in JSON, or readable text)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO


class RequestLog:
    def __init__(self, fmt: str = "json", stream: TextIO | None = None) -> None:
        if fmt not in ("json", "text"):
            raise ValueError("log format must be json or text")
        self.fmt = fmt
        self.stream = stream if stream is not None else sys.stderr

    def request(
        self, *, service: str, method: str, path: str, status: int, latency_s: float, trace: str
    ) -> None:
        severity = "ERROR" if status >= 500 else ("WARNING" if status >= 400 else "INFO")
        if self.fmt == "text":
            self._line(f"{service} {method} {path} {status} {latency_s * 1000:.1f}ms", severity)
            return
        self._json(
            {
                "severity": severity,
                "message": f"{method} {path} {status}",
                "service": service,
                "httpRequest": {
                    "requestMethod": method,
                    "requestUrl": path,
                    "status": status,
                    "latency": f"{latency_s:.6f}s",
                },
                "logging.googleapis.com/trace": trace,
            }
        )

    def event(self, message: str, severity: str = "INFO", **fields: Any) -> None:
        if self.fmt == "text":
            rest = " ".join(f"{k}={v}" for k, v in fields.items())
            self._line(f"{message} {rest}".rstrip(), severity)
            return
        self._json({"severity": severity, "message": message, **fields})

    def _line(self, text: str, severity: str) -> None:
        self.stream.write(f"{time.strftime('%H:%M:%S')} {severity:<7} {text}\n")
        self.stream.flush()

    def _json(self, record: dict[str, Any]) -> None:
        record["time"] = time.time()
        self.stream.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
        self.stream.flush()
