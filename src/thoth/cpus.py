"""How many CPUs this process may keep busy at once: what its thread pools are sized by.

A container cannot trust what it sees. Cloud Run does not tell it its CPU limit; a 1-vCPU
instance has been seen reporting 2 CPUs (dotnet/runtime#99046), and a limit enforced as a
quota leaves both `os.cpu_count()` and the affinity mask at the machine's count. So a
deployment declares the limit (`THOTH_CPUS`, which Terraform sets to the value of
`limits.cpu`; a static test holds them equal); without it, the CPUs this process may run
on (its affinity mask, which the local Cloud Run door narrows to the limit), else
`os.cpu_count()`.
"""

from __future__ import annotations

import math
import os

from thoth.config import get_settings


def runnable() -> int:
    """The CPUs the scheduler lets this process run on (at least 1)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def declared() -> int | None:
    """The declared limit (THOTH_CPUS) rounded up and capped by the runnable CPUs; None
    when none is declared."""
    limit = get_settings().cpus
    return None if limit is None else max(1, min(math.ceil(limit), runnable()))


def usable() -> int:
    """Threads worth running side by side: the declared limit, else the CPUs this process
    may run on."""
    return declared() or runnable()


def describe() -> str:
    """One line for the startup log: the count used and where it came from."""
    limit = get_settings().cpus
    source = f"THOTH_CPUS={limit:g}" if limit is not None else "no THOTH_CPUS"
    return (
        f"thread pools sized for {usable()} CPU(s): {source}, may run on {runnable()}, "
        f"os.cpu_count() {os.cpu_count()}"
    )
