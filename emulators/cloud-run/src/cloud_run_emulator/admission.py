"""Per-instance concurrency: at most `limit` requests in the container; the rest wait in a
bounded queue for a bounded time, then get 429 as Cloud Run answers when it finds no capacity.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Rejected(Exception):
    """No slot within the queue bounds."""


class Admission:
    def __init__(self, limit: int, queue_length: int, queue_seconds: float) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._queue_length = queue_length
        self._queue_seconds = queue_seconds
        self.waiting = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._slots.locked():
            await self._wait()
        else:
            await self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()

    async def _wait(self) -> None:
        if self.waiting >= self._queue_length:
            raise Rejected
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self._queue_seconds)
        except TimeoutError as exc:
            raise Rejected from exc
        finally:
            self.waiting -= 1
