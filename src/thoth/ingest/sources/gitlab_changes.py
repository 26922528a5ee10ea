"""Which files of a GitLab source changed between the commit the mirror is at and a new one.

GitLab's `compare` lists them (renames and deletions included), so a push costs as many
downloads as files it touched. The whole tree is listed instead when compare cannot be
trusted: no commit was synced yet, the ref moved non-fast-forward (the old commit is not in
the new one's history, e.g. after a force push), compare failed, or its diffs were cut short.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from thoth.ingest.sources.gitlab import Compare, GitLabAuthError, GitLabClient, GitLabError


@dataclass(frozen=True)
class Listing:
    """Changes must be found by listing the whole tree, because of `reason`."""

    reason: str


def changes_since(
    client: GitLabClient, project: str, last: str | None, target: str
) -> Compare | Listing:
    """The files changed from `last` to `target`, or why the tree must be listed."""
    if last is None:
        return Listing("no commit synced yet")
    if last == target:
        return Compare(commits=[], changes=[], complete=True)
    try:
        # `target..last` is empty exactly when `last` is in `target`'s history.
        backwards = client.compare(project, target, last, straight=False)
        if backwards.commits:
            return Listing(f"the ref moved non-fast-forward from {last[:12]} to {target[:12]}")
        forwards = client.compare(project, last, target, straight=True)
    except GitLabAuthError:
        raise
    except GitLabError as exc:
        return Listing(f"compare failed: {exc}")
    if not forwards.complete:
        return Listing("compare's diffs were cut short (GitLab's diff limits)")
    return forwards


def git_blob_id(data: bytes) -> str:
    """The id git gives a file's content (what the tree listing reports as its `id`)."""
    header = f"blob {len(data)}\0".encode()
    return hashlib.sha1(header + data, usedforsecurity=False).hexdigest()
