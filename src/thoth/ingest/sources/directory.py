"""The files of a local folder, with safe relative paths.

Hidden files and folders (`.git`, `.DS_Store`, ...) are skipped. Symlinks are followed only
when they point to a file inside the folder; others are reported, never read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from thoth.errors import NotFoundError
from thoth.ingest.sources.report import FileError
from thoth.paths import UnsafePathError, safe_relative_path


@dataclass(frozen=True)
class LocalFile:
    """A file of the folder: `path` is relative (safe, '/'-separated), read lazily."""

    path: str
    location: Path
    size: int

    def read(self) -> bytes:
        return self.location.read_bytes()


@dataclass
class DirectoryListing:
    files: list[LocalFile] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)


class DirectoryNotFoundError(FileNotFoundError, NotFoundError):
    """The source folder does not exist or is not a folder."""


def list_directory(directory: Path | str) -> DirectoryListing:
    """Every regular file under `directory` (hidden ones skipped), sorted by path."""
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise DirectoryNotFoundError(f"source folder {str(root)!r} does not exist")
    root = root.resolve()
    listing = DirectoryListing()
    for location in _walk(root):
        _add(root, location, listing)
    listing.files.sort(key=lambda file: file.path)
    return listing


def _walk(root: Path) -> Iterator[Path]:
    """Non-hidden entries that are files or symlinks; directory symlinks are not entered."""
    for folder, subfolders, names in os.walk(root, followlinks=False):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        base = Path(folder)
        for name in sorted(names):
            if not name.startswith("."):
                yield base / name
        for name in subfolders:
            if (base / name).is_symlink():
                yield base / name


def _add(root: Path, location: Path, listing: DirectoryListing) -> None:
    relative = location.relative_to(root).as_posix()
    try:
        path = safe_relative_path(relative)
    except UnsafePathError as exc:
        listing.errors.append(FileError(path=relative, message=str(exc)))
        return
    problem = _link_problem(root, location)
    if problem:
        listing.errors.append(FileError(path=path, message=problem))
        return
    if location.is_file():
        listing.files.append(LocalFile(path, location, location.stat().st_size))


def _link_problem(root: Path, location: Path) -> str | None:
    if not location.is_symlink():
        return None
    target = location.resolve()
    if not target.is_relative_to(root):
        return "symlink points outside the source folder; skipped"
    if target.is_dir():
        return "symlink to a folder; folder links are not followed"
    return None
