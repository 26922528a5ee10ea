"""Paths that come from outside (GitLab trees, local folders, uploads, API parameters).

Every such path goes through `safe_relative_path` before it becomes part of an object key
or a local file name, so nothing can escape its source's prefix.
"""

from __future__ import annotations

import re

from thoth.errors import InvalidInputError

MAX_PATH_BYTES = 1024  # the GCS object-name limit
_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafePathError(ValueError, InvalidInputError):
    """A path that could escape its source or cannot be stored. Raise it as
    `UnsafePathError(path, reason)`, or with a ready message alone."""

    def __init__(self, path: str, reason: str | None = None) -> None:
        message = path if reason is None else f"unsafe path {path[:200]!r}: {reason}"
        super().__init__(message)
        self.path = path
        self.reason = reason or message


def safe_relative_path(path: str) -> str:
    """`path` normalised to `a/b/c` (no leading `./`, no empty or `.` parts), or raise
    UnsafePathError when it is empty, absolute, has `..` parts, backslashes, control
    characters, or is longer than 1024 bytes in UTF-8."""
    _reject_bad_characters(path)
    if path.startswith("/") or _DRIVE.match(path):
        raise UnsafePathError(path, "absolute paths are not allowed")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafePathError(path, "'..' components are not allowed")
    if not parts:
        raise UnsafePathError(path, "the path is empty")
    normalised = "/".join(parts)
    if len(normalised.encode("utf-8")) > MAX_PATH_BYTES:
        raise UnsafePathError(path, f"longer than {MAX_PATH_BYTES} bytes")
    return normalised


def safe_prefix(path: str) -> str:
    """Like `safe_relative_path`, but the empty string (the whole source) is allowed."""
    return "" if path in ("", ".", "./") else safe_relative_path(path)


def _reject_bad_characters(path: str) -> None:
    if not path:
        raise UnsafePathError(path, "the path is empty")
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        raise UnsafePathError(path, "control characters (or NUL) are not allowed")
    if "\\" in path:
        raise UnsafePathError(path, "backslashes are not allowed; use '/'")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnsafePathError(path, "not valid UTF-8") from exc
