"""The local GitLab (emulators/gitlab) as a subprocess of its real CLI, and the real `git`
binary pushing to it over smart HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port, running

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
    token: str

    def git_url(self, project: str) -> str:
        return self.url.replace("http://", f"http://oauth2:{self.token}@") + f"/{project}.git"


@contextmanager
def local_gitlab(workdir: Path, token: str, *args: str) -> Iterator[LocalGitLab]:
    """The emulator on a free port with `args` (projects, seeds, hooks)."""
    port = free_port()
    exe = Path(sys.executable).with_name("gitlab-emulator")
    command = [str(exe), "--port", str(port), "--data-dir", str(workdir / "data"),
               "--token", token, *args]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/-/health", log=workdir / "gitlab.log", timeout=60):
        yield LocalGitLab(url, token)


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout.strip()
