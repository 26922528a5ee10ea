"""GitLab API v4 entities: the JSON shapes of projects, commits, trees, diffs and branches,
with the fields GitLab documents (those the emulator cannot know are null or empty)."""

from __future__ import annotations

from typing import Any

from .projects import Project
from .repository import Commit, FileChange, Stats, TreeEntry

JSON = dict[str, Any]


def gitlab_time(iso: str) -> str:
    """git's strict ISO 8601 (`2026-11-26T11:00:00+01:00`) in GitLab's shape, with
    milliseconds (`2026-11-26T11:00:00.000+01:00`)."""
    if len(iso) >= 19 and "." not in iso[19:20]:
        return f"{iso[:19]}.000{iso[19:]}"
    return iso


class Urls:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.host = self.base.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]

    def web(self, project: Project) -> str:
        return f"{self.base}/{project.path_with_namespace}"

    def http_git(self, project: Project) -> str:
        return f"{self.web(project)}.git"

    def ssh_git(self, project: Project) -> str:
        return f"git@{self.host}:{project.path_with_namespace}.git"

    def commit(self, project: Project, sha: str) -> str:
        return f"{self.web(project)}/-/commit/{sha}"


def namespace(project: Project, urls: Urls) -> JSON:
    full_path = project.namespace
    return {
        "id": project.id,
        "name": full_path.rsplit("/", 1)[-1],
        "path": full_path.rsplit("/", 1)[-1],
        "kind": "group",
        "full_path": full_path,
        "parent_id": None,
        "avatar_url": None,
        "web_url": f"{urls.base}/groups/{full_path}",
    }


def project(p: Project, urls: Urls, *, empty: bool, last_activity_at: str) -> JSON:
    ns = namespace(p, urls)
    return {
        "id": p.id,
        "description": p.description or None,
        "name": p.path,
        "name_with_namespace": f"{ns['name']} / {p.path}",
        "path": p.path,
        "path_with_namespace": p.path_with_namespace,
        "created_at": p.created_at,
        "default_branch": None if empty else p.default_branch,
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": urls.ssh_git(p),
        "http_url_to_repo": urls.http_git(p),
        "web_url": urls.web(p),
        "readme_url": None,
        "forks_count": 0,
        "avatar_url": None,
        "star_count": 0,
        "last_activity_at": last_activity_at,
        "namespace": ns,
        "visibility": p.visibility,
        "empty_repo": empty,
        "archived": False,
    }


def commit(c: Commit, p: Project, urls: Urls) -> JSON:
    return {
        "id": c.sha,
        "short_id": c.sha[:8],
        "created_at": gitlab_time(c.committed_date),
        "parent_ids": c.parents,
        "title": c.title,
        "message": c.message,
        "author_name": c.author.name,
        "author_email": c.author.email,
        "authored_date": gitlab_time(c.authored_date),
        "committer_name": c.committer.name,
        "committer_email": c.committer.email,
        "committed_date": gitlab_time(c.committed_date),
        "trailers": {},
        "extended_trailers": {},
        "web_url": urls.commit(p, c.sha),
    }


def commit_detail(c: Commit, p: Project, urls: Urls, stats: Stats) -> JSON:
    return commit(c, p, urls) | {
        "stats": {
            "additions": stats.additions,
            "deletions": stats.deletions,
            "total": stats.additions + stats.deletions,
        },
        "status": None,
        "last_pipeline": None,
        "project_id": p.id,
    }


def tree_entry(entry: TreeEntry) -> JSON:
    return {
        "id": entry.sha,
        "name": entry.name,
        "type": entry.kind,
        "path": entry.path,
        "mode": entry.mode,
    }


def diff(change: FileChange, text: str) -> JSON:
    return {
        "diff": text,
        "new_path": change.new_path,
        "old_path": change.old_path,
        "a_mode": "0" if change.new_file else change.old_mode,
        "b_mode": "0" if change.deleted_file else change.new_mode,
        "new_file": change.new_file,
        "renamed_file": change.renamed_file,
        "deleted_file": change.deleted_file,
        "generated_file": False,
    }


def branch(name: str, head: Commit, p: Project, urls: Urls) -> JSON:
    return {
        "name": name,
        "merged": False,
        "protected": False,
        "default": name == p.default_branch,
        "developers_can_push": False,
        "developers_can_merge": False,
        "can_push": True,
        "web_url": f"{urls.web(p)}/-/tree/{name}",
        "commit": commit(head, p, urls),
    }
