"""Project webhooks: their settings, GitLab's branch filter, and its auto-disabling rule.

Auto-disabling follows GitLab's `WebHooks::AutoDisabling` (GitLab 17.11 and later): every
failed delivery (4xx, 5xx, timeout, connection error) counts; from the 4th consecutive
failure the hook is temporarily disabled for the initial backoff (1 minute), doubled on each
further failure up to 24 hours; after 40 consecutive failures it is permanently disabled.
Failures seen while a hook is disabled do not count, any success resets the count, and a
disabled hook receives no events (they are dropped, not queued). Hooks persist in
`<data-dir>/hooks.json`.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .config import HookSpec, WebhookPolicy
from .projects import now_iso

TEMPORARILY_DISABLED_FAILURE_THRESHOLD = 3
PERMANENTLY_DISABLED_FAILURE_THRESHOLD = 39
BACKOFF_GROWTH_FACTOR = 2.0
STRATEGIES = ("wildcard", "regex", "all_branches")


class HookError(ValueError):
    """Invalid hook attributes (GitLab answers 400)."""


@dataclass
class Hook:
    id: int
    project_id: int
    url: str
    token: str = ""
    push_events: bool = True
    push_events_branch_filter: str = ""
    branch_filter_strategy: str = "wildcard"
    created_at: str = field(default_factory=now_iso)
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    recent_failures: int = 0
    disabled_until: float | None = None

    # --- GitLab's AutoDisabling -------------------------------------------------------
    def temporarily_disabled(self, now: float) -> bool:
        return (
            self.disabled_until is not None
            and self.disabled_until >= now
            and TEMPORARILY_DISABLED_FAILURE_THRESHOLD
            < self.recent_failures
            <= PERMANENTLY_DISABLED_FAILURE_THRESHOLD
        )

    def permanently_disabled(self) -> bool:
        return self.recent_failures > PERMANENTLY_DISABLED_FAILURE_THRESHOLD

    def executable(self, now: float) -> bool:
        return not self.temporarily_disabled(now) and not self.permanently_disabled()

    def alert_status(self, now: float) -> str:
        if self.temporarily_disabled(now):
            return "temporarily_disabled"
        if self.permanently_disabled():
            return "disabled"
        return "executable"

    def backoff(self, now: float, policy: WebhookPolicy) -> None:
        """Record one failed delivery."""
        if not self.executable(now):
            return
        previous = self.recent_failures
        self.recent_failures = min(previous + 1, PERMANENTLY_DISABLED_FAILURE_THRESHOLD + 1)
        if self.recent_failures > TEMPORARILY_DISABLED_FAILURE_THRESHOLD:
            exponent = previous - TEMPORARILY_DISABLED_FAILURE_THRESHOLD
            delay = policy.initial_backoff * BACKOFF_GROWTH_FACTOR**exponent
            self.disabled_until = now + min(max(delay, policy.initial_backoff), policy.max_backoff)

    def enable(self) -> None:
        """Record a successful delivery (or a successful test, which re-enables)."""
        self.recent_failures = 0
        self.disabled_until = None

    # --- branch filter ----------------------------------------------------------------
    def wants_push(self, branch: str) -> bool:
        if not self.push_events:
            return False
        pattern = self.push_events_branch_filter
        if self.branch_filter_strategy == "all_branches" or not pattern:
            return True
        if self.branch_filter_strategy == "regex":
            return re.search(pattern, branch) is not None
        return _wildcard(pattern).fullmatch(branch) is not None


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def validate(attrs: dict[str, Any]) -> None:
    url = str(attrs.get("url", ""))
    if not url.startswith(("http://", "https://")):
        raise HookError("url is blocked: Only allowed schemes are http, https")
    strategy = attrs.get("branch_filter_strategy", "wildcard")
    if strategy not in STRATEGIES:
        raise HookError("branch_filter_strategy does not have a valid value")
    if strategy == "regex":
        try:
            re.compile(str(attrs.get("push_events_branch_filter", "")))
        except re.error as exc:
            raise HookError("push_events_branch_filter is not a valid regex") from exc


class HookRegistry:
    def __init__(self, data_dir: Path) -> None:
        self._file = data_dir / "hooks.json"
        self._lock = threading.Lock()
        self._hooks: dict[int, Hook] = {}
        if self._file.exists():
            for raw in json.loads(self._file.read_text()):
                hook = Hook(**raw)
                self._hooks[hook.id] = hook

    def for_project(self, project_id: int) -> list[Hook]:
        return [h for h in self._hooks.values() if h.project_id == project_id]

    def get(self, project_id: int, hook_id: int) -> Hook | None:
        hook = self._hooks.get(hook_id)
        return hook if hook is not None and hook.project_id == project_id else None

    def add(self, project_id: int, attrs: dict[str, Any]) -> Hook:
        validate(attrs)
        known = {name for name in Hook.__dataclass_fields__ if name not in ("id", "project_id")}
        with self._lock:
            hook = Hook(
                id=max(self._hooks, default=0) + 1,
                project_id=project_id,
                **{key: value for key, value in attrs.items() if key in known},
            )
            self._hooks[hook.id] = hook
            self._save_locked()
        return hook

    def ensure(self, project_id: int, spec: HookSpec) -> Hook:
        """A configured hook: added once, matched by URL on later starts."""
        for hook in self.for_project(project_id):
            if hook.url == spec.url:
                hook.token = spec.token
                hook.push_events = spec.push_events
                hook.push_events_branch_filter = spec.push_events_branch_filter
                hook.branch_filter_strategy = spec.branch_filter_strategy
                self.save()
                return hook
        return self.add(project_id, asdict(spec))

    def delete(self, hook: Hook) -> None:
        with self._lock:
            self._hooks.pop(hook.id, None)
            self._save_locked()

    def save(self) -> None:
        with self._lock:
            self._save_locked()

    def _save_locked(self) -> None:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._file.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(h) for h in self._hooks.values()], indent=2))
        tmp.replace(self._file)


def hook_entity(hook: Hook, now: float | None = None) -> dict[str, Any]:
    """GitLab's ProjectHook entity (the secret token is never returned)."""
    now = time.time() if now is None else now
    disabled_until = (
        datetime.fromtimestamp(hook.disabled_until, UTC).isoformat(timespec="milliseconds")
        if hook.disabled_until is not None and hook.temporarily_disabled(now)
        else None
    )
    return {
        "id": hook.id,
        "url": hook.url,
        "name": "",
        "description": "",
        "project_id": hook.project_id,
        "push_events": hook.push_events,
        "push_events_branch_filter": hook.push_events_branch_filter,
        "branch_filter_strategy": hook.branch_filter_strategy,
        "tag_push_events": False,
        "merge_requests_events": False,
        "issues_events": False,
        "note_events": False,
        "pipeline_events": False,
        "enable_ssl_verification": True,
        "alert_status": hook.alert_status(now),
        "disabled_until": disabled_until,
        "url_variables": [],
        "custom_headers": [],
        "created_at": hook.created_at,
    }
