"""Storage faults for tests: a BlobStore over the real fake-gcs-server that fails chosen
operations on chosen keys, the way a 503 from GCS or a crash at that point would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc

from thoth.bucket.store import BlobStore
from thoth.config import Settings

Operation = str  # "read", "write", "upload", "delete", "download", "list"


class Crash(Exception):
    """Stands for the process dying at this point (raised instead of the operation)."""


@dataclass
class Rule:
    operation: Operation
    matches: Callable[[str], bool]
    times: int = 1
    error: Callable[[str], Exception] = field(
        default=lambda key: gexc.ServiceUnavailable(f"injected 503 on {key}")
    )
    skip: int = 0  # let this many matching calls through first
    fired: int = 0
    gate: threading.Event | None = None  # when set: wait for it, then let the call through


class FaultyStore(BlobStore):
    """The real store, with `fail(...)` rules consulted before each operation."""

    def __init__(self, settings: Settings) -> None:
        real = BlobStore.from_settings(settings)
        super().__init__(real._client, real.bucket_name)
        self.rules: list[Rule] = []
        self._lock = threading.Lock()

    def fail(
        self,
        operation: Operation,
        matches: Callable[[str], bool],
        *,
        times: int = 1,
        skip: int = 0,
        error: Callable[[str], Exception] | None = None,
        gate: threading.Event | None = None,
    ) -> Rule:
        rule = Rule(operation, matches, times, skip=skip, gate=gate)
        if error is not None:
            rule.error = error
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def _check(self, operation: Operation, key: str) -> None:
        rule = self._firing(operation, key)
        if rule is None:
            return
        if rule.gate is None:
            raise rule.error(key)
        rule.gate.wait(120)

    def _firing(self, operation: Operation, key: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.operation != operation or not rule.matches(key):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                if rule.fired < rule.times:
                    rule.fired += 1
                    return rule
        return None

    def read(self, key: str) -> tuple[bytes, int]:
        self._check("read", key)
        return super().read(key)

    def write(self, key: str, data: bytes, **kwargs: Any) -> int:
        self._check("write", key)
        return super().write(key, data, **kwargs)

    def upload_file(self, key: str, path: Path) -> None:
        self._check("upload", key)
        super().upload_file(key, path)

    def download_file(self, key: str, path: Path) -> None:
        self._check("download", key)
        super().download_file(key, path)

    def delete(self, key: str, *, if_generation: int | None = None) -> bool:
        self._check("delete", key)
        return super().delete(key, if_generation=if_generation)


def ending(suffix: str) -> Callable[[str], bool]:
    return lambda key: key.endswith(suffix)


def under(prefix: str) -> Callable[[str], bool]:
    return lambda key: key.startswith(prefix)


def exactly(wanted: str) -> Callable[[str], bool]:
    return lambda key: key == wanted


def crash(key: str) -> Exception:
    return Crash(f"crashed at {key}")
