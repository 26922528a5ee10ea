"""The local GitLab (emulators/gitlab) as a subprocess, and real git clones that push to it
over smart HTTP."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import free_port, running

TOKEN = "glpat-thoth-tests"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Lovelace",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


@dataclass(frozen=True)
class LocalGitLab:
    url: str
    token: str = TOKEN

    def web_url(self, project: str) -> str:
        return f"{self.url}/{project}"

    def git_url(self, project: str) -> str:
        return f"http://oauth2:{self.token}@{self.url.removeprefix('http://')}/{project}.git"


@contextmanager
def local_gitlab(
    workdir: Path, seed_dir: Path, projects: list[str], *options: str, token: str = TOKEN
) -> Iterator[LocalGitLab]:
    """The emulator with `projects`, each seeded with `seed_dir` as its first commit, and
    any further command-line `options` (webhooks, for example)."""
    port = free_port()
    beside_python = Path(sys.executable).with_name("gitlab-emulator")
    exe = shutil.which("gitlab-emulator") or str(beside_python)
    command = [
        exe,
        "--port", str(port),
        "--data-dir", str(workdir / "gitlab-data"),
        "--token", token,
        "--seed-dir", str(seed_dir),
        *[arg for project in projects for arg in ("--project", project)],
        *options,
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/-/health", log=workdir / "gitlab.log"):
        yield LocalGitLab(url, token)


def lfs_pointer_file(data: bytes) -> bytes:
    """What `git lfs track` commits in a file's place."""
    oid = hashlib.sha256(data).hexdigest()
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n".encode()
    )


def lfs_push(gitlab: LocalGitLab, project: str, data: bytes) -> None:
    """What `git lfs push` does for one object (no git-lfs here): the batch API, then a PUT
    where it says."""
    oid = hashlib.sha256(data).hexdigest()
    media = {
        "Content-Type": "application/vnd.git-lfs+json",
        "Accept": "application/vnd.git-lfs+json",
    }
    batch = httpx.post(
        f"{gitlab.url}/{project}.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]},
        headers=media,
        auth=("oauth2", gitlab.token),
        timeout=30,
    )
    batch.raise_for_status()
    action = batch.json()["objects"][0].get("actions", {}).get("upload")
    if action is not None:
        httpx.put(
            action["href"], content=data, headers=action["header"], timeout=30
        ).raise_for_status()


@dataclass(frozen=True)
class Clone:
    """A working copy of a project: edit files, commit, push."""

    path: Path

    @classmethod
    def of(cls, gitlab: LocalGitLab, project: str, path: Path) -> Clone:
        _git(path.parent, "clone", "--quiet", gitlab.git_url(project), path.name)
        return cls(path)

    def write(self, name: str, text: str | bytes) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text)

    def run(self, *args: str) -> str:
        return _git(self.path, *args)

    def head(self) -> str:
        return self.run("rev-parse", "HEAD")

    def commit_and_push(self, message: str, *, force: bool = False) -> str:
        self.run("add", "--all")
        self.run("commit", "--quiet", "-m", message)
        self.run("push", "--quiet", *(["--force"] if force else []), "origin", "HEAD:main")
        return self.head()


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout.strip()
