"""What a sync did: how many files it added, changed, deleted or left alone, which paths it
touched, and per-file errors."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Counted = Literal["added", "changed", "deleted", "unchanged"]


class FileError(BaseModel):
    """A file that was not mirrored, and why."""

    path: str
    message: str
    retry: bool = False  # failed on the way (a download, a write): the next sync tries again


class SyncReport(BaseModel):
    """The outcome of mirroring one source. Paths are relative to the source."""

    source: str
    added: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    added_paths: list[str] = Field(default_factory=list)
    changed_paths: list[str] = Field(default_factory=list)
    deleted_paths: list[str] = Field(default_factory=list)
    errors: list[FileError] = Field(default_factory=list)
    seconds: float = 0.0
    commit: str | None = Field(None, description="The GitLab commit the mirror is now at.")
    web_url: str | None = Field(None, description="The GitLab project's page.")
    changes_from: str = Field(
        "listing",
        description="How changed files were found: `compare` (GitLab's compare since the "
        "last synced commit) or `listing` (the whole tree or folder), and why.",
    )

    def count(self, status: Counted, path: str) -> None:
        """Count one path as added, changed, deleted or unchanged."""
        if status == "added":
            self.added += 1
            self.added_paths.append(path)
        elif status == "changed":
            self.changed += 1
            self.changed_paths.append(path)
        elif status == "deleted":
            self.deleted += 1
            self.deleted_paths.append(path)
        else:
            self.unchanged += 1

    @property
    def incomplete(self) -> list[FileError]:
        """Files the mirror could not bring up to date this time (not deliberate skips)."""
        return [error for error in self.errors if error.retry]

    def summary(self) -> str:
        return (
            f"{self.source}: {self.added} added, {self.changed} changed, {self.deleted} deleted, "
            f"{self.unchanged} unchanged, {len(self.errors)} errors in {self.seconds:.1f}s"
        )

    def sort(self) -> None:
        """Put every list in path order (workers finish in any order)."""
        for paths in (self.added_paths, self.changed_paths, self.deleted_paths):
            paths.sort()
        self.errors.sort(key=lambda error: error.path)
