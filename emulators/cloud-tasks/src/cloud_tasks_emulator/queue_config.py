"""A queue's rate limits and retry policy: Cloud Tasks defaults, validation, backoff rule."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import timedelta

from google.cloud import tasks_v2

from .errors import invalid

MAX_DISPATCHES_PER_SECOND = 500.0
MAX_CONCURRENT_DISPATCHES = 5000
DEFAULT_MAX_CONCURRENT_DISPATCHES = 1000
DEFAULT_MAX_ATTEMPTS = 100
DEFAULT_MIN_BACKOFF = 0.1
DEFAULT_MAX_BACKOFF = 3600.0
DEFAULT_MAX_DOUBLINGS = 16
DEFAULT_MAX_RETRY_DURATION = 0.0
RATE_FIELDS = frozenset(
    {"max_dispatches_per_second", "max_burst_size", "max_concurrent_dispatches"}
)
RETRY_FIELDS = frozenset(
    {"max_attempts", "max_retry_duration", "min_backoff", "max_backoff", "max_doublings"}
)
LOGGING_FIELDS = frozenset({"sampling_ratio"})


@dataclass(frozen=True)
class RateConfig:
    max_dispatches_per_second: float = MAX_DISPATCHES_PER_SECOND
    max_concurrent_dispatches: int = DEFAULT_MAX_CONCURRENT_DISPATCHES

    @property
    def max_burst_size(self) -> int:
        """Cloud Tasks picks the burst from the rate, "generally at least" the rate itself."""
        return max(1, math.ceil(self.max_dispatches_per_second))

    def to_proto(self) -> tasks_v2.RateLimits:
        return tasks_v2.RateLimits(
            max_dispatches_per_second=self.max_dispatches_per_second,
            max_burst_size=self.max_burst_size,
            max_concurrent_dispatches=self.max_concurrent_dispatches,
        )


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    min_backoff: float = DEFAULT_MIN_BACKOFF
    max_backoff: float = DEFAULT_MAX_BACKOFF
    max_doublings: int = DEFAULT_MAX_DOUBLINGS
    max_retry_duration: float = DEFAULT_MAX_RETRY_DURATION

    def backoff(self, failures: int) -> float:
        """Delay before the retry that follows the `failures`-th failed attempt.

        Starts at min_backoff, doubles max_doublings times, then grows linearly by
        2**max_doublings * min_backoff per retry, always capped at max_backoff.
        """
        step = max(failures, 1) - 1
        if step <= self.max_doublings:
            interval = self.min_backoff * (2.0**step)
        else:
            linear = self.min_backoff * (2.0**self.max_doublings)
            interval = linear + (step - self.max_doublings) * linear
        return min(interval, self.max_backoff)

    def exhausted(self, attempts: int, elapsed: float) -> bool:
        """True when every configured limit is reached (Cloud Tasks needs both when both set).

        max_attempts -1 and max_retry_duration 0 each mean "no limit"; with neither limit
        the task is retried until it succeeds.
        """
        limits: list[bool] = []
        if self.max_attempts >= 0:
            limits.append(attempts >= self.max_attempts)
        if self.max_retry_duration > 0:
            limits.append(elapsed >= self.max_retry_duration)
        return bool(limits) and all(limits)

    def to_proto(self) -> tasks_v2.RetryConfig:
        return tasks_v2.RetryConfig(
            max_attempts=self.max_attempts,
            min_backoff=timedelta(seconds=self.min_backoff),
            max_backoff=timedelta(seconds=self.max_backoff),
            max_doublings=self.max_doublings,
            max_retry_duration=timedelta(seconds=self.max_retry_duration),
        )


def _seconds(value: timedelta) -> float:
    return value.total_seconds()


def rate_from_proto(
    msg: tasks_v2.RateLimits, base: RateConfig, fields: set[str] | None = None
) -> RateConfig:
    """Merge `msg` into `base`. `fields` limits which fields are taken (None: every set one).

    A zero value means "unspecified" and falls back to the Cloud Tasks default.
    """
    result = base
    if fields is None or "max_dispatches_per_second" in fields:
        rate = float(msg.max_dispatches_per_second)
        if rate < 0 or rate > MAX_DISPATCHES_PER_SECOND or math.isnan(rate):
            raise invalid("rate_limits.max_dispatches_per_second must be in (0, 500]")
        result = replace(result, max_dispatches_per_second=rate or MAX_DISPATCHES_PER_SECOND)
    if fields is None or "max_concurrent_dispatches" in fields:
        concurrent = int(msg.max_concurrent_dispatches)
        if concurrent < 0 or concurrent > MAX_CONCURRENT_DISPATCHES:
            raise invalid("rate_limits.max_concurrent_dispatches must be in [1, 5000]")
        result = replace(
            result, max_concurrent_dispatches=concurrent or DEFAULT_MAX_CONCURRENT_DISPATCHES
        )
    if fields is not None and "max_burst_size" in fields:
        raise invalid("rate_limits.max_burst_size is output only")
    return result


def retry_from_proto(
    msg: tasks_v2.RetryConfig, base: RetryPolicy, fields: set[str] | None = None
) -> RetryPolicy:
    """Merge `msg` into `base`; zero/unset values take the Cloud Tasks defaults."""
    result = base

    def wanted(field: str) -> bool:
        return fields is None or field in fields

    if wanted("max_attempts"):
        attempts = int(msg.max_attempts)
        if attempts < -1:
            raise invalid("retry_config.max_attempts must be >= -1")
        result = replace(result, max_attempts=attempts or DEFAULT_MAX_ATTEMPTS)
    if wanted("min_backoff"):
        value = _seconds(msg.min_backoff)
        if value < 0:
            raise invalid("retry_config.min_backoff must be >= 0")
        result = replace(result, min_backoff=value or DEFAULT_MIN_BACKOFF)
    if wanted("max_backoff"):
        value = _seconds(msg.max_backoff)
        if value < 0:
            raise invalid("retry_config.max_backoff must be >= 0")
        result = replace(result, max_backoff=value or DEFAULT_MAX_BACKOFF)
    if wanted("max_doublings"):
        doublings = int(msg.max_doublings)
        if doublings < 0:
            raise invalid("retry_config.max_doublings must be >= 0")
        result = replace(result, max_doublings=doublings or DEFAULT_MAX_DOUBLINGS)
    if wanted("max_retry_duration"):
        value = _seconds(msg.max_retry_duration)
        if value < 0:
            raise invalid("retry_config.max_retry_duration must be >= 0")
        result = replace(result, max_retry_duration=float(math.floor(value)))
    if result.max_backoff < result.min_backoff:
        raise invalid("retry_config.max_backoff must be >= min_backoff")
    return result


@dataclass(frozen=True)
class LoggingConfig:
    """stackdriver_logging_config: None when unset (Cloud Tasks then writes no logs)."""

    sampling_ratio: float | None = None

    def to_proto(self) -> tasks_v2.StackdriverLoggingConfig | None:
        if self.sampling_ratio is None:
            return None
        return tasks_v2.StackdriverLoggingConfig(sampling_ratio=self.sampling_ratio)


def logging_from_proto(queue: tasks_v2.Queue) -> LoggingConfig:
    if "stackdriver_logging_config" not in queue:
        return LoggingConfig()
    ratio = float(queue.stackdriver_logging_config.sampling_ratio)
    if not 0.0 <= ratio <= 1.0:
        raise invalid("stackdriver_logging_config.sampling_ratio must be in [0.0, 1.0]")
    return LoggingConfig(ratio)
