"""The processes and threads of a container, read from /proc (Linux only).

A container here is a process group: the door starts the container's command in a session of
its own, and everything the command starts stays in its group.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

PROC = Path("/proc")


def group_pids(pgid: int) -> Iterator[int]:
    """Every process in process group `pgid`."""
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # Fields after the command's closing parenthesis: state, ppid, pgrp, ...
            if int(stat[stat.rindex(")") + 2 :].split()[2]) == pgid:
                yield int(entry.name)
        except (OSError, ValueError, IndexError):
            continue  # the process ended while being read


def thread_ids(pid: int) -> list[int]:
    """The threads of process `pid` (none once it has ended)."""
    try:
        return [int(task.name) for task in (PROC / str(pid) / "task").iterdir()]
    except OSError:
        return []
