"""A service's instances: up to `max_instance_count` containers, each taking at most its
concurrency in requests, as Cloud Run scales a service out.

A request goes to a running instance with a free slot (a ready one before one still
starting); when there is none and fewer instances run than the maximum, a new one is started
for it (a cold start); otherwise it waits in a bounded queue, then gets 429, as Cloud Run
answers when it finds no capacity. It pends as long as Cloud Run's page on instance
autoscaling says in its newest version found: 3.5 times the service's average startup time,
or 10 s (`queue_seconds`) when that is longer. (Versions of that page have said 60 s, 10 s,
and "at least the average startup time" while an instance starts.) Instances that scaled to
zero stay in the list, down, and are reused for the next cold start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp

from .config import ServiceConfig
from .instance import Instance, State
from .log import RequestLog

STARTUP_FACTOR = 3.5  # x the average startup time a request may pend


class Rejected(Exception):
    """No instance had a slot within the queue bounds."""


class Pool:
    def __init__(
        self, service: ServiceConfig, session: aiohttp.ClientSession, log: RequestLog
    ) -> None:
        self.service = service
        self._session = session
        self._log = log
        self.instances: list[Instance] = []
        self.waiting = 0
        self._freed = asyncio.Event()  # set, and replaced, whenever capacity may have freed

    @property
    def first(self) -> Instance:
        """The instance started at boot (created on first use)."""
        if not self.instances:
            self.instances.append(self._new())
        return self.instances[0]

    @contextlib.asynccontextmanager
    async def claim(self) -> AsyncIterator[Instance]:
        """An instance holding one of its slots for this request; Rejected when none frees
        up within the queue bounds."""
        instance = await self._claim()
        try:
            yield instance
        finally:
            instance.end_request()
            self._wake()

    async def stop(self) -> None:
        await asyncio.gather(*(instance.stop() for instance in self.instances))

    async def _claim(self) -> Instance:
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        queued = False
        try:
            while True:
                instance = self._free() or self._cold()
                if instance is not None:
                    instance.begin_request()  # no await since the choice: the slot is ours
                    return instance
                if not queued:
                    if self.waiting >= self.service.queue_length:
                        raise Rejected
                    self.waiting += 1
                    queued = True
                left = arrived + self.pending_seconds() - loop.time()
                try:
                    await asyncio.wait_for(self._freed.wait(), max(left, 0.0))
                except TimeoutError:
                    if arrived + self.pending_seconds() <= loop.time():
                        raise Rejected from None
        finally:
            if queued:
                self.waiting -= 1

    def pending_seconds(self) -> float:
        """How long a request may wait for a slot: STARTUP_FACTOR x the service's average
        startup time so far, or `queue_seconds` when that is longer (or none is on record)."""
        times = [t for instance in self.instances for t in instance.startup_seconds]
        average = sum(times) / len(times) if times else 0.0
        return max(self.service.queue_seconds, STARTUP_FACTOR * average)

    def _free(self) -> Instance | None:
        """A running instance with a free slot: ready ones first, then starting ones."""
        limit = self.service.terraform.concurrency
        for ready in (True, False):
            for instance in self.instances:
                if _running(instance, ready) and instance.in_flight < limit:
                    return instance
        return None

    def _cold(self) -> Instance | None:
        """An instance to start for this request, while fewer than the maximum run."""
        running = [i for i in self.instances if i.state is not State.DOWN or i.in_flight]
        if len(running) >= max(1, self.service.terraform.max_instances):
            return None
        for instance in self.instances:
            if instance.state is State.DOWN and instance.in_flight == 0:
                return instance
        instance = self._new()
        self.instances.append(instance)
        return instance

    def _new(self) -> Instance:
        # A configured container port can only be the first instance's.
        port = 0 if self.instances else self.service.container_port
        instance = Instance(self.service, self._session, self._log, port, len(self.instances) + 1)
        instance.on_down = self._wake  # a stopped or crashed instance leaves room for another
        return instance

    def _wake(self) -> None:
        freed, self._freed = self._freed, asyncio.Event()
        freed.set()


def _running(instance: Instance, ready: bool) -> bool:
    """Ready, or (not `ready`) on its way: starting, or claimed for a cold start."""
    if ready:
        return instance.state is State.READY
    return instance.state is State.STARTING or (
        instance.state is State.DOWN and instance.in_flight > 0
    )
