"""Renew something on a timer while a long step runs (the finalize claim)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)


class Heartbeat:
    """`with Heartbeat(renew, every_seconds):` calls `renew` every `every_seconds` on a
    daemon thread until the block ends. A failing renewal is logged and stops the beats; the
    step itself checks what it holds before it commits."""

    def __init__(self, renew: Callable[[], None], every_seconds: float) -> None:
        self._renew = renew
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="heartbeat")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._renew()
            except Exception as exc:
                log.warning("heartbeat stopped: %s", exc)
                return
