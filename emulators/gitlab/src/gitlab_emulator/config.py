"""The emulator's settings: flags, environment variables and an optional TOML file.

A config file describes several projects, each with its own seed folder, visibility and
webhooks:

    tokens = ["glpat-local"]
    [[projects]]
    path = "group/handbook"
    seed_dir = "examples/handbook"
    visibility = "public"
    [[projects.hooks]]
    url = "http://127.0.0.1:8090/webhooks/gitlab"
    token = "hook-secret"
    push_events_branch_filter = "main"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .projects import VISIBILITIES, ProjectError, validate_path


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class User:
    """The one user every valid token belongs to (GitLab's first administrator)."""

    id: int = 1
    username: str = "root"
    name: str = "Administrator"
    email: str = "admin@example.com"


@dataclass(frozen=True)
class HookSpec:
    url: str
    token: str = ""
    push_events: bool = True
    push_events_branch_filter: str = ""
    branch_filter_strategy: str = "wildcard"


@dataclass(frozen=True)
class ProjectSpec:
    path: str
    visibility: str = "private"
    seed_dir: Path | None = None
    default_branch: str = "main"
    hooks: tuple[HookSpec, ...] = ()


@dataclass(frozen=True)
class WebhookPolicy:
    """GitLab's delivery limits (WebHooks::AutoDisabling and the webhook timeout)."""

    timeout: float = 10.0
    initial_backoff: float = 60.0
    max_backoff: float = 86400.0
    push_event_hooks_limit: int = 3
    max_delay: float = 0.0  # each delivery first waits a random 0..max_delay seconds


@dataclass(frozen=True)
class RateLimit:
    """Requests per `period` seconds per client on /api/v4; 0 disables the limit."""

    limit: int = 0
    period: float = 60.0
    # Which answers carry RateLimit-* headers: "throttled" (GitLab's default: only 429s),
    # "every" (GitLab with rate_limiting_headers_for_unthrottled_requests), or "none" (429s
    # bare, as GitLab.com has answered: gitlab-org/gitlab#365728).
    headers: str = "throttled"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8929
    external_url: str = ""
    tokens: tuple[str, ...] = ()
    projects: tuple[ProjectSpec, ...] = ()
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    user: User = field(default_factory=User)
    log_level: str = "info"

    @property
    def base_url(self) -> str:
        if self.external_url:
            return self.external_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"


def load_file(path: Path) -> tuple[tuple[str, ...], tuple[ProjectSpec, ...]]:
    """Tokens and projects from a TOML config file; relative seed folders are resolved
    against the file's own folder."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    tokens = tuple(str(token) for token in raw.get("tokens", []))
    projects = tuple(_project(item, path.parent) for item in raw.get("projects", []))
    return tokens, projects


def project_spec(
    path: str, visibility: str, seed_dir: Path | None, hooks: tuple[HookSpec, ...]
) -> ProjectSpec:
    try:
        clean = validate_path(path)
    except ProjectError as exc:
        raise ConfigError(str(exc)) from exc
    if visibility not in VISIBILITIES:
        raise ConfigError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if seed_dir is not None and not seed_dir.is_dir():
        raise ConfigError(f"seed folder {str(seed_dir)!r} is not a directory")
    return ProjectSpec(path=clean, visibility=visibility, seed_dir=seed_dir, hooks=hooks)


def _project(item: Any, base: Path) -> ProjectSpec:
    if not isinstance(item, dict) or "path" not in item:
        raise ConfigError("each [[projects]] entry needs a path")
    seed = item.get("seed_dir")
    seed_dir = (base / seed).resolve() if seed else None
    hooks = tuple(_hook(hook) for hook in item.get("hooks", []))
    spec = project_spec(str(item["path"]), str(item.get("visibility", "private")), seed_dir, hooks)
    branch = str(item.get("default_branch", "main"))
    return ProjectSpec(spec.path, spec.visibility, spec.seed_dir, branch, spec.hooks)


def _hook(item: Any) -> HookSpec:
    if not isinstance(item, dict) or "url" not in item:
        raise ConfigError("each [[projects.hooks]] entry needs a url")
    return HookSpec(
        url=str(item["url"]),
        token=str(item.get("token", "")),
        push_events=bool(item.get("push_events", True)),
        push_events_branch_filter=str(item.get("push_events_branch_filter", "")),
        branch_filter_strategy=str(item.get("branch_filter_strategy", "wildcard")),
    )
