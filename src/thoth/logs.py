"""Logging for Cloud Logging (one JSON object per line) or for humans (design.md §9)."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from thoth.config import Settings

trace_context: ContextVar[str | None] = ContextVar("trace_context", default=None)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    """Fields Cloud Logging understands: severity, message, time, and the request's trace."""

    def __init__(self, project: str) -> None:
        super().__init__()
        self.project = project

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        trace = trace_context.get()
        if trace:
            entry["logging.googleapis.com/trace"] = (
                f"projects/{self.project}/traces/{trace.split('/')[0]}"
            )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in record.__dict__.items() if k not in _RESERVED}
        line = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.getMessage()}"
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(settings: Settings) -> None:
    """The one logging setup of every Thoth process: JSON for Cloud Logging, or text."""
    fmt, level, project = settings.log_format, settings.log_level, settings.project
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(project) if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "urllib3", "google", "sentence_transformers", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
