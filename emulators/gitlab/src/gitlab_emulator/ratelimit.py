"""GitLab's user and IP rate limits (Rack::Attack): a fixed window per client.

Windows are aligned to multiples of the period since the epoch, as Rack::Attack's are, so
`RateLimit-Reset` is the end of the current window. A throttled request gets 429, the
RateLimit-* headers, `Retry-After` and GitLab's plain-text body "Retry later"; other answers
carry the headers only with `headers = "every"`, and with `headers = "none"` a 429 comes bare.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate

from .config import RateLimit

THROTTLE_NAME = "throttle_authenticated_api"
THROTTLE_NAME_ANONYMOUS = "throttle_unauthenticated_api"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    def __init__(self, config: RateLimit, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    @property
    def enabled(self) -> bool:
        return self.config.limit > 0

    def hit(self, client: str, authenticated: bool) -> Verdict:
        """Count one request by `client` (a token or an address) and judge it."""
        if not self.enabled:
            return Verdict(True, {})
        now = self._clock()
        period = self.config.period
        window = int(now // period)
        with self._lock:
            self._counts = {key: n for key, n in self._counts.items() if key[1] >= window}
            observed = self._counts.get((client, window), 0) + 1
            self._counts[(client, window)] = observed
        reset = (window + 1) * period
        limit = self.config.limit
        headers = {
            # GitLab reports the quota per minute whatever the configured period.
            "RateLimit-Limit": str(round(limit * 60 / period)),
            "RateLimit-Observed": str(observed),
            "RateLimit-Remaining": str(max(0, limit - observed)),
            "RateLimit-Reset": str(math.ceil(reset)),
        }
        mode = self.config.headers
        if observed <= limit:
            return Verdict(True, headers if mode == "every" else {})
        if mode == "none":
            return Verdict(False, {})
        headers["RateLimit-Name"] = THROTTLE_NAME if authenticated else THROTTLE_NAME_ANONYMOUS
        headers["RateLimit-ResetTime"] = formatdate(reset, usegmt=True)
        headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
        return Verdict(False, headers)
