"""An instance's CPUs, as `resources.limits.cpu` and `startup_cpu_boost` give them.

Cloud Run gives an instance the vCPUs its limit names (1 when none is set) and, with startup
CPU boost, more while the instance starts and for 10 s after. Here an instance's processes
are bound (sched_setaffinity) to that many of the door's own CPUs: a service set to 1 vCPU runs
on one core however many the machine has, and the threads and processes it starts inherit
the binding. The binding is a count of whole CPUs: a fraction of one is given a whole CPU, and
a machine with fewer CPUs than the limit gives what it has. Linux only; elsewhere nothing is
bound.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import zlib
from collections.abc import Iterable

from .procs import group_pids, thread_ids

DEFAULT_CPU = "1"
BOOST_AFTER_STARTUP_SECONDS = 10.0  # the boost outlasts the startup probe by this much
MIN_CPU = 0.08
MAX_CPU = 8
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)(m)?")
# Startup CPU boost: the vCPUs an instance gets while it starts, by its limit.
_BOOSTED = ((1.0, 2), (2.0, 4), (4.0, 8), (8.0, 8))


def parse_cpu(text: str) -> float:
    """vCPUs of a Kubernetes-style CPU quantity ("1", "2", "500m", "0.5"), as the Cloud Run
    API accepts them: 0.08 to 1 in any step, whole numbers above 1, at most 8."""
    match = _QUANTITY.fullmatch(text.strip())
    if not match:
        raise ValueError(f"cpu {text!r} is not a quantity such as '1', '2' or '500m'")
    value = float(match.group(1)) / (1000 if match.group(2) else 1)
    if not MIN_CPU <= value <= MAX_CPU:
        raise ValueError(f"cpu {text!r}: Cloud Run takes {MIN_CPU:g} to {MAX_CPU} vCPUs")
    if value > 1 and not value.is_integer():
        raise ValueError(f"cpu {text!r}: above 1, Cloud Run takes whole vCPUs only")
    return value


def boosted(limit: float) -> float:
    """The vCPUs of an instance with startup CPU boost, while it starts."""
    return next(boost for upto, boost in _BOOSTED if limit <= upto)


def bindable() -> bool:
    return hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


def available() -> tuple[int, ...]:
    """The CPUs the door itself may run on."""
    return tuple(sorted(os.sched_getaffinity(0))) if bindable() else ()


def placement(service: str, number: int, vcpus: float, cpus: tuple[int, ...]) -> frozenset[int]:
    """The CPUs instance `number` of `service` runs on: ceil(vcpus) of `cpus`, from a place
    that differs by service and by instance, so one-CPU instances spread over the machine
    instead of all sharing its first core."""
    count = min(len(cpus), max(1, math.ceil(vcpus)))
    start = zlib.crc32(service.encode()) + (number - 1) * count
    return frozenset(cpus[(start + i) % len(cpus)] for i in range(count))


def bind_current(cpus: frozenset[int]) -> None:
    """Bind the calling process (run in the container's process before it execs)."""
    os.sched_setaffinity(0, cpus)


def bind_group(pgid: int, cpus: frozenset[int]) -> None:
    """Bind every thread of every process of process group `pgid` to `cpus`. Twice over: a
    thread started by one not yet rebound inherits the old binding and is caught the second
    time."""
    for _ in range(2):
        for pid in group_pids(pgid):
            _bind_threads(thread_ids(pid), cpus)


def _bind_threads(tids: Iterable[int], cpus: frozenset[int]) -> None:
    for tid in tids:
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            os.sched_setaffinity(tid, cpus)
