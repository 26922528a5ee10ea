"""CPU only while something needs it: with cpu_idle, the container's process group is stopped
(SIGSTOP) whenever no request, startup or probe is in progress, and continued (SIGCONT) when
one begins. That is what Cloud Run's request-based billing does to a background thread.
"""

from __future__ import annotations

import contextlib
import os
import signal


class CpuGate:
    def __init__(self, throttle: bool) -> None:
        self.throttle = throttle
        self._pgid: int | None = None
        self._users = 0
        self.frozen = False

    def attach(self, pgid: int | None) -> None:
        """Follow a new process group (None: no process); it starts running."""
        self._pgid = pgid
        self.frozen = False
        if pgid is not None and self._users == 0:
            self._freeze()

    def acquire(self) -> None:
        self._users += 1
        if self.frozen:
            self._signal(signal.SIGCONT)
            self.frozen = False

    def release(self) -> None:
        self._users -= 1
        if self._users == 0:
            self._freeze()

    def thaw(self) -> None:
        """Run the process regardless of users: it is about to be signalled to stop."""
        if self.frozen:
            self._signal(signal.SIGCONT)
            self.frozen = False

    def _freeze(self) -> None:
        if self.throttle and self._pgid is not None and not self.frozen:
            self._signal(signal.SIGSTOP)
            self.frozen = True

    def _signal(self, sig: signal.Signals) -> None:
        if self._pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pgid, sig)
