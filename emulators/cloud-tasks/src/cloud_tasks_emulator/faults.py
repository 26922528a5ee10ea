"""Fault injection: duplicate deliveries, failures after a 2xx response, random delays.

All faults are off by default. Decisions come from one seeded RNG so a run is repeatable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Faults:
    duplicate: int = 1
    """Each task is delivered this many times in total (1 = normal)."""
    fail_after_response: float = 0.0
    """Fraction of 2xx-answered deliveries treated as failed, so the task is retried."""
    delay_max: float = 0.0
    """Upper bound in seconds of a random extra delay before each dispatch."""
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self.validate()
        self._rng = random.Random(self.seed)  # noqa: S311 - fault decisions, not crypto

    def validate(self) -> None:
        if self.duplicate < 1:
            raise ValueError("duplicate must be >= 1")
        if not 0.0 <= self.fail_after_response <= 1.0:
            raise ValueError("fail_after_response must be within [0, 1]")
        if self.delay_max < 0:
            raise ValueError("delay_max must be >= 0")

    def extra_delay(self) -> float:
        return self._rng.uniform(0.0, self.delay_max) if self.delay_max > 0 else 0.0

    def fail_this_success(self) -> bool:
        return self.fail_after_response > 0 and self._rng.random() < self.fail_after_response

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update (from `POST /faults`); validates before committing."""
        candidate = Faults(
            duplicate=int(changes.get("duplicate", self.duplicate)),
            fail_after_response=float(changes.get("fail_after_response", self.fail_after_response)),
            delay_max=float(changes.get("delay_max", self.delay_max)),
            seed=changes.get("seed", self.seed),
        )
        self.duplicate = candidate.duplicate
        self.fail_after_response = candidate.fail_after_response
        self.delay_max = candidate.delay_max
        if "seed" in changes:
            self.seed = candidate.seed
            self._rng = random.Random(self.seed)  # noqa: S311 - fault decisions, not crypto

    def as_dict(self) -> dict[str, Any]:
        return {
            "duplicate": self.duplicate,
            "fail_after_response": self.fail_after_response,
            "delay_max": self.delay_max,
            "seed": self.seed,
        }
