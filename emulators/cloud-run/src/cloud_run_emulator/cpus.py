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


def whole(vcpus: float, machine: int) -> int:
    """The CPUs bound for `vcpus`: a fraction counts as one, and no more than the machine's."""
    return min(machine, max(1, math.ceil(vcpus)))


class Ledger:
    """How many of this door process's containers are bound to each CPU. A container takes the
    least used ones, so one-vCPU instances of a service spread over the machine as Cloud Run's
    instances each have their own vCPUs, until there are more of them than CPUs. Door
    processes do not see each other's (`make up` runs one per service, compose one per
    container); among equally used CPUs, each starts from the one its port points at, so
    doors on consecutive ports start on different CPUs."""

    def __init__(self, cpus: tuple[int, ...], start: int = 0) -> None:
        self._used = dict.fromkeys(cpus, 0)
        self._rank = {cpu: (i - start) % len(cpus) for i, cpu in enumerate(cpus)}

    def take(self, vcpus: float, among: frozenset[int] | None = None) -> frozenset[int]:
        """Bind-to CPUs for `vcpus`, the least used first (of `among`, when given)."""
        pool = sorted(among if among is not None else self._used, key=self._order)
        chosen = frozenset(pool[: whole(vcpus, len(self._used))])
        for cpu in chosen:
            self._used[cpu] += 1
        return chosen

    def give_back(self, cpus: frozenset[int]) -> None:
        for cpu in cpus:
            self._used[cpu] -= 1

    def _order(self, cpu: int) -> tuple[int, int]:
        return (self._used[cpu], self._rank[cpu])


_ledger: Ledger | None = None


def ledger(port: int) -> Ledger | None:
    """The door process's ledger of its CPUs, started at the first caller's `port`; None
    where nothing can be bound."""
    global _ledger
    if _ledger is None and bindable():
        _ledger = Ledger(available(), start=port)
    return _ledger


def bind_current(cpus: frozenset[int]) -> None:
    """Bind the calling process (run in the container's process before it execs)."""
    os.sched_setaffinity(0, cpus)


def bind_group(pgid: int, cpus: frozenset[int], passes: int = 10) -> None:
    """Bind every thread of every process of process group `pgid` to `cpus`, pass after pass
    until one finds nothing left to bind: a thread started meanwhile by one not yet rebound
    inherits the old binding, and the next pass catches it."""
    for _ in range(passes):
        if not sum(_bind_threads(thread_ids(pid), cpus) for pid in group_pids(pgid)):
            return


def _bind_threads(tids: Iterable[int], cpus: frozenset[int]) -> int:
    """How many of `tids` had to be rebound."""
    changed = 0
    for tid in tids:
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            if os.sched_getaffinity(tid) != cpus:
                os.sched_setaffinity(tid, cpus)
                changed += 1
    return changed
