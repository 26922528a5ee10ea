"""Git LFS pointer files: what git holds for a file tracked by LFS (a handbook's PDFs and
Word files often are). GitLab's raw blob and raw file endpoints return the pointer; the file
itself comes from `repository/files/:path/raw?lfs=true` (GitLab 15.7 and later).

A pointer is at most 1024 bytes of `key value` lines, `version` first (the LFS spec,
docs/spec.md in git-lfs): the object's `oid sha256:<hex>` and its `size` in bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_POINTER_BYTES = 1024
_VERSION = b"version https://git-lfs.github.com/spec/v1\n"
_OID = re.compile(r"sha256:([0-9a-f]{64})")


@dataclass(frozen=True)
class LfsPointer:
    oid: str
    size: int


def lfs_pointer(data: bytes) -> LfsPointer | None:
    """The pointer `data` is, or None for any other content."""
    if len(data) > MAX_POINTER_BYTES or not data.startswith(_VERSION) or not data.endswith(b"\n"):
        return None
    try:
        lines = data.decode("ascii").splitlines()
    except UnicodeDecodeError:
        return None
    fields = dict(line.split(" ", 1) for line in lines if " " in line)
    oid = _OID.fullmatch(fields.get("oid", ""))
    size = fields.get("size", "")
    if oid is None or not size.isdigit():
        return None
    return LfsPointer(oid.group(1), int(size))
