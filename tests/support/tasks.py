"""An in-process stand-in for the queue, for tests that drive pipeline steps by hand.
(The queue's own semantics are tested against the real emulator.)"""

from __future__ import annotations

from typing import Any


class RecordingTasks:
    """Remembers enqueued tasks; refuses a name it has seen, as Cloud Tasks does."""

    def __init__(self) -> None:
        self.tasks: dict[str, tuple[str, dict[str, Any]]] = {}

    def enqueue(
        self, name: str, path: str, payload: dict[str, Any], timeout: float | None = None
    ) -> bool:
        if name in self.tasks:
            return False
        self.tasks[name] = (path, payload)
        return True

    def paths(self) -> list[str]:
        return [path for path, _ in self.tasks.values()]
