"""Projects: a numeric id and a `namespace/name` path over a bare repository in the data
directory. The registry persists in `<data-dir>/projects.json`, so ids survive restarts."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from .repository import Person, Repository

VISIBILITIES = ("private", "internal", "public")
# GitLab's visibility_level numbers, as webhook payloads carry them.
VISIBILITY_LEVEL = {"private": 0, "internal": 10, "public": 20}
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ProjectError(ValueError):
    """An invalid project path or visibility."""


@dataclass
class Project:
    id: int
    path_with_namespace: str
    visibility: str
    default_branch: str
    created_at: str
    description: str = ""

    @property
    def path(self) -> str:
        return self.path_with_namespace.rsplit("/", 1)[-1]

    @property
    def namespace(self) -> str:
        return self.path_with_namespace.rsplit("/", 1)[0]

    @property
    def is_public(self) -> bool:
        return self.visibility == "public"


def validate_path(path: str) -> str:
    parts = path.strip("/").split("/")
    if len(parts) < 2 or not all(_SEGMENT.match(part) for part in parts):
        raise ProjectError(f"project path must be namespace/name, got {path!r}")
    if any(part.endswith((".git", ".atom")) or part == ".." for part in parts):
        raise ProjectError(f"project path segments may not end in .git or .atom: {path!r}")
    return "/".join(parts)


class ProjectRegistry:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.repos_dir = data_dir / "repositories"
        self._file = data_dir / "projects.json"
        self._lock = threading.Lock()
        self._projects: dict[int, Project] = {}
        if self._file.exists():
            for raw in json.loads(self._file.read_text()):
                project = Project(**raw)
                self._projects[project.id] = project

    def all(self) -> list[Project]:
        return sorted(self._projects.values(), key=lambda p: p.id)

    def get(self, id_or_path: str) -> Project | None:
        """By numeric id or by `namespace/name` (already URL-decoded), as GitLab accepts."""
        if id_or_path.isdigit():
            return self._projects.get(int(id_or_path))
        wanted = id_or_path.strip("/").lower()
        return next(
            (p for p in self._projects.values() if p.path_with_namespace.lower() == wanted), None
        )

    def repository(self, project: Project) -> Repository:
        return Repository(self.repos_dir / f"{project.path_with_namespace}.git")

    def ensure(
        self,
        path: str,
        *,
        visibility: str,
        default_branch: str = "main",
        seed_dir: Path | None = None,
        author: Person,
    ) -> Project:
        """The project at `path`, created (and seeded) if it does not exist yet."""
        path = validate_path(path)
        if visibility not in VISIBILITIES:
            raise ProjectError(f"visibility must be one of {', '.join(VISIBILITIES)}")
        with self._lock:
            existing = self.get(path)
            if existing is not None:
                existing.visibility = visibility
                self._save()
                return existing
            project = Project(
                id=max(self._projects, default=0) + 1,
                path_with_namespace=path,
                visibility=visibility,
                default_branch=default_branch,
                created_at=now_iso(),
            )
            repo = Repository.create(self.repository(project).path, default_branch)
            if seed_dir is not None:
                repo.seed(seed_dir, default_branch, author, "Initial commit")
            self._projects[project.id] = project
            self._save()
            return project

    def _save(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        payload = [asdict(p) for p in self.all()]
        tmp = self._file.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        tmp.replace(self._file)


def now_iso() -> str:
    """GitLab's timestamp shape: milliseconds and an explicit UTC offset."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
