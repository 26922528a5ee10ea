"""Which local folders a `dir` source may mirror: only those under `THOTH_SOURCE_ROOTS`.

A source's folder is chosen by whoever can call the worker's API; without this rule `/` or
`/proc/self` would copy the worker's own files and environment into the bucket.
"""

from __future__ import annotations

import os
from pathlib import Path

from thoth.errors import ForbiddenError, InvalidInputError


class FolderNotAllowedError(ForbiddenError):
    """A `dir` source names a folder outside the configured roots."""


class InvalidFolderError(InvalidInputError, ValueError):
    """A `dir` source names something that is not a folder path at all."""


def allowed_folder(directory: str, roots: list[str]) -> Path:
    """`directory` with links resolved, when it lies inside one of `roots` (also resolved)."""
    folder = _resolved(directory)
    for root in roots:
        if folder.is_relative_to(os.path.realpath(Path(root).expanduser())):
            return folder
    allowed = ", ".join(roots) if roots else "none are configured"
    raise FolderNotAllowedError(
        f"folder {directory[:200]!r} is outside the folders dir sources may read "
        f"(THOTH_SOURCE_ROOTS: {allowed})"
    )


def _resolved(directory: str) -> Path:
    try:
        return Path(os.path.realpath(Path(directory).expanduser()))
    except (ValueError, RuntimeError, OSError) as exc:
        # A NUL byte, or "~someone" for a user this machine does not know.
        raise InvalidFolderError(f"folder {directory[:200]!r} is not a valid path: {exc}") from None
