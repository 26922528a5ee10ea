"""An instance's memory as Cloud Run counts it, against its limit.

Cloud Run stops an instance whose memory passes `resources.limits.memory` (512 MiB when
none is set), and its writable filesystem is in memory too, so files under /tmp count. Here
an instance's use is the resident memory of every process of its container (its process
group) plus the bytes written in its private directories (the stand-ins for its /tmp) since the
container started, file by file.
Read from /proc, so on Linux only; elsewhere nothing is measured.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from .procs import PROC, group_pids

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MIB = 1024 * 1024
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?")
_UNITS = {
    None: 1,
    "Ki": 1024,
    "Mi": MIB,
    "Gi": 1024 * MIB,
    "Ti": 1024 * 1024 * MIB,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
}


def measurable() -> bool:
    return (PROC / "self" / "statm").is_file()


def parse_quantity(text: str) -> int:
    """Bytes of a Kubernetes-style quantity, as Cloud Run's memory limits are written."""
    match = _QUANTITY.fullmatch(text.strip())
    if not match:
        raise ValueError(f"memory {text!r} is not a quantity such as '512Mi' or '2Gi'")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def group_rss(pgid: int) -> int:
    """Resident bytes of every process in process group `pgid`."""
    total = 0
    for pid in group_pids(pgid):
        try:
            total += int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue  # the process ended while being read
    return total


def file_sizes(folders: Iterable[str]) -> dict[str, int]:
    """The size of every regular file under `folders`, by path."""
    sizes: dict[str, int] = {}
    for folder in folders:
        for root, _, names in os.walk(folder):
            for name in names:
                path = Path(root) / name
                try:
                    sizes[str(path)] = path.lstat().st_size
                except OSError:
                    continue
    return sizes


def grown_bytes(folders: Iterable[str], before: dict[str, int]) -> int:
    """Bytes written under `folders` since `before` was taken: new files whole, older ones by
    what they grew (deleting an older file frees nothing this container wrote)."""
    return sum(max(0, size - before.get(path, 0)) for path, size in file_sizes(folders).items())
