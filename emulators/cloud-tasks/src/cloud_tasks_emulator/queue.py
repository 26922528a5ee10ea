"""A queue: its tasks, its dispatch loop, token-bucket rate limiter and retry backoff."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from dataclasses import dataclass

import aiohttp
import grpc
from google.cloud import tasks_v2

from . import task as task_mod
from .faults import Faults
from .http_target import HttpTargetOverride
from .log import DispatchLog
from .names import QueueName
from .oidc import TokenIssuer
from .queue_config import LoggingConfig, RateConfig, RetryPolicy
from .task import AttemptRecord, TaskState


@dataclass
class DispatchContext:
    """What every queue shares: the HTTP session, the token issuer, faults, the log."""

    client: aiohttp.ClientSession
    issuer: TokenIssuer
    faults: Faults
    log: DispatchLog
    tombstone_seconds: float
    task_retention_seconds: float = 31 * 24 * 3600.0


class TokenBucket:
    """Tokens refill at `rate` per second up to `burst`; one token per dispatch."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def configure(self, rate: float, burst: int) -> None:
        self._refill(time.monotonic())
        self.rate = rate
        self.burst = burst
        self.tokens = min(self.tokens, float(burst))

    def _refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait_time(self) -> float:
        """Seconds until a token is available (0 when one is available now)."""
        self._refill(time.monotonic())
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class Queue:
    def __init__(
        self,
        name: QueueName,
        rate: RateConfig,
        retry: RetryPolicy,
        ctx: DispatchContext,
        logging: LoggingConfig | None = None,
        paused: bool = False,
    ) -> None:
        self.name = name
        self.rate = rate
        self.retry = retry
        self.logging = logging or LoggingConfig()
        self.http_target: HttpTargetOverride | None = None
        self.ctx = ctx
        self.paused = paused
        self.purge_time: float | None = None
        self.tasks: dict[str, TaskState] = {}
        self.tombstones: dict[str, float] = {}
        self.in_flight = 0
        self.max_in_flight_seen = 0
        self._bucket = TokenBucket(rate.max_dispatches_per_second, rate.max_burst_size)
        self._heap: list[tuple[float, int, str, int]] = []
        self._seq = 0
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._dispatches: set[asyncio.Task[None]] = set()

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(self._run(), name=str(self.name))

    async def close(self) -> None:
        pending = [t for t in (self._runner, *self._dispatches) if t is not None]
        for job in pending:
            job.cancel()
        for job in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job
        for state in self.tasks.values():
            state.removed = True
        self.tasks.clear()

    # ---- configuration ---------------------------------------------------------------------

    def configure(self, rate: RateConfig, retry: RetryPolicy, logging: LoggingConfig) -> None:
        self.rate = rate
        self.retry = retry
        self.logging = logging
        self._bucket.configure(rate.max_dispatches_per_second, rate.max_burst_size)
        self._wake.set()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self._wake.set()

    def to_proto(self) -> tasks_v2.Queue:
        state = tasks_v2.Queue.State.PAUSED if self.paused else tasks_v2.Queue.State.RUNNING
        queue = tasks_v2.Queue(
            name=str(self.name),
            rate_limits=self.rate.to_proto(),
            retry_config=self.retry.to_proto(),
            state=state,
        )
        if self.purge_time is not None:
            queue.purge_time = task_mod.to_datetime(self.purge_time)
        logging = self.logging.to_proto()
        if logging is not None:
            queue.stackdriver_logging_config = logging
        if self.http_target is not None:
            queue.http_target = self.http_target.proto
        return queue

    # ---- tasks -----------------------------------------------------------------------------

    def is_tombstoned(self, task_id: str, now: float) -> bool:
        expiry = self.tombstones.get(task_id)
        if expiry is None:
            return False
        if expiry <= now:
            del self.tombstones[task_id]
            return False
        return True

    def _expire_tombstones(self, now: float) -> None:
        if len(self.tombstones) > 10_000:
            self.tombstones = {k: v for k, v in self.tombstones.items() if v > now}

    def expires_at(self, state: TaskState) -> float:
        return state.create_time + self.ctx.task_retention_seconds

    def get(self, task_id: str, now: float) -> TaskState | None:
        """The live task with this id; a task past its retention is deleted on sight."""
        state = self.tasks.get(task_id)
        if state is not None and now >= self.expires_at(state) and not state.in_flight:
            self.remove(task_id)
            return None
        return state

    def live_ids(self, now: float) -> list[str]:
        return [k for k in list(self.tasks) if self.get(k, now) is not None]

    def add(self, state: TaskState) -> None:
        self._expire_tombstones(state.create_time)
        self.tasks[state.name.task_id] = state
        self._push(state)

    def remove(self, task_id: str) -> None:
        state = self.tasks.pop(task_id, None)
        if state is None:
            return
        state.removed = True
        self.tombstones[task_id] = time.time() + self.ctx.tombstone_seconds

    def purge(self) -> None:
        for task_id in list(self.tasks):
            self.remove(task_id)
        self._heap.clear()
        self.purge_time = time.time()

    def run_now(self, state: TaskState) -> None:
        """RunTask: dispatch now, even when paused, rate limited, early or already running."""
        state.version += 1
        self._start_dispatch(state, run_at=time.time())

    def _push(self, state: TaskState) -> None:
        state.version += 1
        self._seq += 1
        heapq.heappush(
            self._heap, (state.schedule_time, self._seq, state.name.task_id, state.version)
        )
        self._wake.set()

    # ---- dispatch loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            timeout = self._dispatch_ready()
            if timeout is not None and timeout <= 0:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    def _peek(self) -> TaskState | None:
        while self._heap:
            _, _, task_id, version = self._heap[0]
            state = self.tasks.get(task_id)
            if state is not None and state.version == version and not state.in_flight:
                return state
            heapq.heappop(self._heap)
        return None

    def _dispatch_ready(self) -> float | None:
        """Start every dispatch allowed now; return how long to sleep (None: until woken)."""
        while not self.paused:
            state = self._peek()
            if state is None:
                return None
            now = time.time()
            delay = state.schedule_time - now
            if delay > 0:
                return delay
            if now >= self.expires_at(state):
                heapq.heappop(self._heap)
                self._expire(state)
                continue
            if self.in_flight >= self.rate.max_concurrent_dispatches:
                return None
            wait = self._bucket.wait_time()
            if wait > 0:
                return wait
            self._bucket.take()
            heapq.heappop(self._heap)
            self._start_dispatch(state)
        return None

    def _expire(self, state: TaskState) -> None:
        self.remove(state.name.task_id)
        self._log(state, task_mod.Delivery(None, 0.0), 0.0, "expired", "task retention reached")

    def _start_dispatch(self, state: TaskState, run_at: float | None = None) -> None:
        now = time.time()
        attempt = state.begin_attempt(now, run_at)
        call = self.http_target.apply(state.call) if self.http_target else state.call
        headers = task_mod.build_headers(state, call, self.name.queue_id, self.ctx.issuer, now)
        self.in_flight += 1
        self.max_in_flight_seen = max(self.max_in_flight_seen, self.in_flight)
        job = asyncio.get_running_loop().create_task(self._dispatch(state, attempt, call, headers))
        self._dispatches.add(job)
        job.add_done_callback(self._dispatches.discard)

    async def _dispatch(
        self,
        state: TaskState,
        attempt: AttemptRecord,
        call: task_mod.HttpCall,
        headers: dict[str, str],
    ) -> None:
        try:
            delay = self.ctx.faults.extra_delay()
            if delay:
                await asyncio.sleep(delay)
            result = await task_mod.send(self.ctx.client, call, headers, state.dispatch_deadline)
            succeeded = self._record(state, attempt, result)
            if succeeded and self.ctx.faults.duplicate > 1:
                await self._send_duplicates(state, call, headers)
        finally:
            state.in_flight -= 1
            self.in_flight -= 1
            self._wake.set()

    def _record(self, state: TaskState, attempt: AttemptRecord, result: task_mod.Delivery) -> bool:
        """Update the task after an attempt; returns True when the task completed."""
        now = time.time()
        _finish_attempt(attempt, result, now)
        if result.status is not None:
            state.response_count += 1
            if result.status < 500:
                state.execution_count += 1
        ok = result.status is not None and 200 <= result.status < 300
        detail = result.error
        if ok and self.ctx.faults.fail_this_success():
            ok = False
            detail = "fault injected: 2xx response treated as failure"
        latency_ms = result.latency * 1000
        if state.removed:
            self._log(state, result, latency_ms, "deleted", detail)
            return ok
        if ok:
            self.remove(state.name.task_id)
            self._log(state, result, latency_ms, "completed", detail)
            return True
        state.previous_response = result.status
        state.retry_reason = _retry_reason(result, detail)
        policy = state.retry or self.retry
        elapsed = now - (state.first_attempt.dispatch_time if state.first_attempt else now)
        if policy.exhausted(state.dispatch_count, elapsed):
            self.remove(state.name.task_id)
            self._log(state, result, latency_ms, "dropped", detail)
            return False
        next_time = _next_attempt_time(policy, state.dispatch_count, attempt, result, now)
        if next_time >= self.expires_at(state):
            self.remove(state.name.task_id)
            self._log(state, result, latency_ms, "expired", "task retention reached")
            return False
        state.schedule_time = next_time
        self._push(state)
        self._log(state, result, latency_ms, "retry", detail)
        return False

    async def _send_duplicates(
        self, state: TaskState, call: task_mod.HttpCall, headers: dict[str, str]
    ) -> None:
        for _ in range(self.ctx.faults.duplicate - 1):
            result = await task_mod.send(self.ctx.client, call, headers, state.dispatch_deadline)
            self._log(state, result, result.latency * 1000, "duplicate", "fault injected")

    def _log(
        self,
        state: TaskState,
        result: task_mod.Delivery,
        latency_ms: float,
        outcome: str,
        detail: str,
    ) -> None:
        self.ctx.log.dispatch(
            task=str(state.name),
            queue=str(self.name),
            attempt=state.dispatch_count,
            status=result.status,
            latency_ms=latency_ms,
            outcome=outcome,
            url=state.call.url,
            detail=detail,
        )


def _finish_attempt(attempt: AttemptRecord, result: task_mod.Delivery, now: float) -> None:
    # An attempt that ended without a response has still ended, so its status is meaningful.
    attempt.response_time = now
    if result.status is not None:
        attempt.http_status = result.status
        attempt.rpc_code = task_mod.rpc_code_for_http(result.status)
        attempt.message = f"HTTP {result.status}"
        return
    timed_out = result.error == "dispatch deadline exceeded"
    attempt.rpc_code = task_mod.code_of(
        grpc.StatusCode.DEADLINE_EXCEEDED if timed_out else grpc.StatusCode.UNAVAILABLE
    )
    attempt.message = result.error


def _next_attempt_time(
    policy: RetryPolicy,
    failures: int,
    attempt: AttemptRecord,
    result: task_mod.Delivery,
    now: float,
) -> float:
    """Backoff from the failure, or from the RunTask call; a Retry-After may push it later."""
    base = attempt.run_at if attempt.run_at is not None else now
    later = base + policy.backoff(failures)
    if result.retry_after is not None:
        later = max(later, now + result.retry_after)
    return later


def _retry_reason(result: task_mod.Delivery, detail: str) -> str:
    if detail.startswith("fault injected"):
        return "FAULT_INJECTED"
    if result.status is None:
        return "DEADLINE_EXCEEDED" if "deadline" in detail else "UNREACHABLE"
    return "HTTP_ERROR"
