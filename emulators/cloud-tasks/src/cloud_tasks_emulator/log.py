"""Structured logging: one line per dispatch, JSON (Cloud Logging shape) or readable text."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO


class DispatchLog:
    def __init__(self, fmt: str = "json", stream: TextIO | None = None) -> None:
        if fmt not in ("json", "text"):
            raise ValueError("log format must be json or text")
        self.fmt = fmt
        self.stream = stream if stream is not None else sys.stderr

    def dispatch(
        self,
        *,
        task: str,
        queue: str,
        attempt: int,
        status: int | None,
        latency_ms: float,
        outcome: str,
        url: str,
        detail: str = "",
    ) -> None:
        severity = "INFO" if outcome in ("completed", "duplicate") else "WARNING"
        if outcome == "dropped":
            severity = "ERROR"
        fields: dict[str, Any] = {
            "task": task,
            "queue": queue,
            "attempt": attempt,
            "status": status,
            "latency_ms": round(latency_ms, 1),
            "outcome": outcome,
            "url": url,
        }
        if detail:
            fields["detail"] = detail
        self._write(severity, "dispatch", fields)

    def event(self, message: str, severity: str = "INFO", **fields: Any) -> None:
        self._write(severity, message, fields)

    def _write(self, severity: str, message: str, fields: dict[str, Any]) -> None:
        if self.fmt == "json":
            record = {"severity": severity, "message": message, "time": time.time(), **fields}
            line = json.dumps(record, separators=(",", ":"), default=str)
        else:
            stamp = time.strftime("%H:%M:%S")
            rest = " ".join(f"{key}={value}" for key, value in fields.items())
            line = f"{stamp} {severity:<7} {message} {rest}".rstrip()
        self.stream.write(line + "\n")
        self.stream.flush()
