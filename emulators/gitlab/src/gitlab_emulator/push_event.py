"""The Push Hook payload GitLab documents for a branch update (webhook_events.md, "Push
events"): at most the 20 newest commits, oldest first, each with its added, modified and
removed paths; `total_commits_count` counts them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import User
from .entities import Urls
from .projects import VISIBILITY_LEVEL, Project
from .repository import ZERO_SHA, Commit, Repository

MAX_COMMITS = 20
BRANCH_PREFIX = "refs/heads/"


@dataclass(frozen=True)
class RefUpdate:
    ref: str
    before: str
    after: str

    @property
    def action(self) -> str:
        """GitLab's grouping of a ref change: created, removed or pushed."""
        if self.before == ZERO_SHA:
            return "created"
        return "removed" if self.after == ZERO_SHA else "pushed"

    @property
    def branch(self) -> str | None:
        return self.ref[len(BRANCH_PREFIX) :] if self.ref.startswith(BRANCH_PREFIX) else None


def ref_updates(before: dict[str, str], after: dict[str, str]) -> list[RefUpdate]:
    """What a push changed, from the refs before and after it."""
    names = sorted(set(before) | set(after))
    return [
        RefUpdate(name, before.get(name, ZERO_SHA), after.get(name, ZERO_SHA))
        for name in names
        if before.get(name) != after.get(name)
    ]


def pushed_commits(repo: Repository, update: RefUpdate, other_heads: list[str]) -> list[Commit]:
    """Commits the push brought to the branch, oldest first. A new branch brings what no
    other branch already had."""
    if update.after == ZERO_SHA:
        return []
    if update.before == ZERO_SHA:
        revisions = [update.after, *(f"^{sha}" for sha in other_heads)]
    else:
        revisions = [f"{update.before}..{update.after}"]
    return list(reversed(repo.log(revisions)))


def push_payload(
    repo: Repository, project: Project, update: RefUpdate, user: User, urls: Urls
) -> dict[str, Any]:
    heads = [sha for name, sha in repo.refs().items() if name.startswith(BRANCH_PREFIX)]
    others = [sha for sha in heads if sha != update.after]
    commits = pushed_commits(repo, update, others)
    shown = commits[-MAX_COMMITS:]
    return {
        "object_kind": "push",
        "event_name": "push",
        "before": update.before,
        "after": update.after,
        "ref": update.ref,
        "ref_protected": False,
        "checkout_sha": None if update.after == ZERO_SHA else update.after,
        "message": None,
        "user_id": user.id,
        "user_name": user.name,
        "user_username": user.username,
        "user_email": user.email,
        "user_avatar": None,
        "project_id": project.id,
        "project": _project(project, urls),
        "commits": [_commit(repo, c, project, urls) for c in shown],
        "total_commits_count": len(commits),
        "push_options": {},
        "repository": _repository(project, urls),
    }


def _commit(repo: Repository, commit: Commit, project: Project, urls: Urls) -> dict[str, Any]:
    parent = commit.parents[0] if commit.parents else None
    changes = repo.changes(parent, commit.sha, renames=False)
    return {
        "id": commit.sha,
        "message": commit.message,
        "title": commit.title,
        "timestamp": commit.authored_date,
        "url": urls.commit(project, commit.sha),
        "author": {"name": commit.author.name, "email": commit.author.email},
        "added": [c.new_path for c in changes if c.new_file],
        "modified": [c.new_path for c in changes if not c.new_file and not c.deleted_file],
        "removed": [c.old_path for c in changes if c.deleted_file],
    }


def _project(project: Project, urls: Urls) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.path,
        "description": project.description,
        "web_url": urls.web(project),
        "avatar_url": None,
        "git_ssh_url": urls.ssh_git(project),
        "git_http_url": urls.http_git(project),
        "namespace": project.namespace.rsplit("/", 1)[-1],
        "visibility_level": VISIBILITY_LEVEL[project.visibility],
        "path_with_namespace": project.path_with_namespace,
        "default_branch": project.default_branch,
        "ci_config_path": None,
        "homepage": urls.web(project),
        "url": urls.ssh_git(project),
        "ssh_url": urls.ssh_git(project),
        "http_url": urls.http_git(project),
    }


def _repository(project: Project, urls: Urls) -> dict[str, Any]:
    return {
        "name": project.path,
        "url": urls.ssh_git(project),
        "description": project.description,
        "homepage": urls.web(project),
        "git_http_url": urls.http_git(project),
        "git_ssh_url": urls.ssh_git(project),
        "visibility_level": VISIBILITY_LEVEL[project.visibility],
    }
