"""Helpers for the GitLab emulator tests: the emulator as a subprocess of its real CLI, the
real `git` binary, and a tiny real HTTP server receiving webhooks (fixtures in conftest.py)."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

TOKEN = "glpat-test-token"
PROJECT = "group/handbook"
PUBLIC = "group/public"
BIG = "group/big"
BIG_FILES = 150
GIT_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def encoded(path: str) -> str:
    return urllib.parse.quote(path, safe="")


# Where thoth's GitLab client lives: its current home first, then the one before the
# refactor into thoth.ingest (so the tests run against either tree).
THOTH_GITLAB_MODULES = ("thoth.ingest.sources.gitlab", "thoth.sources.gitlab")


def thoth_gitlab() -> ModuleType:
    """thoth's GitLab client module; the test is skipped when thoth is not importable."""
    for name in THOTH_GITLAB_MODULES:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    pytest.skip(
        "thoth is not importable: run with PYTHONPATH=<checkout>/src", allow_module_level=True
    )


# ---- the emulator ---------------------------------------------------------------------------


@dataclass
class Emulator:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def git_url(self, project: str, token: str | None = TOKEN, user: str = "oauth2") -> str:
        auth = f"{user}:{token}@" if token is not None else ""
        return f"http://{auth}127.0.0.1:{self.port}/{project}.git"

    def api(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"PRIVATE-TOKEN": token} if token else {}
        return httpx.Client(base_url=f"{self.url}/api/v4", headers=headers, timeout=10)

    def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/-/emulator/deliveries", params=params, timeout=5)
        response.raise_for_status()
        return list(response.json())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _cli() -> list[str]:
    script = shutil.which("gitlab-emulator", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "gitlab_emulator"]


def start_emulator(tmp: Path, *args: str, data_dir: Path | None = None) -> Emulator:
    port = free_port()
    data_dir = data_dir or tmp / f"data-{port}"
    log_path = tmp / f"emulator-{port}.log"
    command = [*_cli(), "--port", str(port), "--data-dir", str(data_dir), "--token", TOKEN, *args]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    emulator = Emulator(process, port, log_path, data_dir)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"emulator exited: {log_path.read_text()}")
        try:
            return httpx.get(f"{emulator.url}/-/health", timeout=1).text == "GitLab OK"
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout=20)
    return emulator


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


HANDBOOK = {
    "README.md": "# Handbook\n\nWelcome.\n",
    "docs/intro.md": "# Intro\n\nFirst page.\n",
    "docs/guides/setup.md": "# Setup\n\nInstall it.\n",
    "people/leave.md": "# Leave\n\n25 days.\n",
}


@pytest.fixture(scope="session")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("seeds")
    write_tree(root / "handbook", HANDBOOK)
    write_tree(root / "public", {"index.md": "# Public\n"})
    write_tree(root / "big", {f"pages/page-{i:03d}.md": f"# Page {i}\n" for i in range(BIG_FILES)})
    config = f"""
[[projects]]
path = "{PROJECT}"
seed_dir = "handbook"

[[projects]]
path = "{PUBLIC}"
seed_dir = "public"
visibility = "public"

[[projects]]
path = "{BIG}"
seed_dir = "big"
"""
    (root / "emulator.toml").write_text(config)
    return root


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory, seeds: Path) -> Iterator[Emulator]:
    proc = start_emulator(
        tmp_path_factory.mktemp("emulator"), "--config", str(seeds / "emulator.toml")
    )
    yield proc
    proc.stop()


# ---- git ------------------------------------------------------------------------------------

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Lovelace",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


@dataclass
class Git:
    cwd: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **GIT_ENV}
        result = subprocess.run(
            ["git", *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=GIT_TIMEOUT,  # a hung transfer fails the test instead of the session
        )
        if check and result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
        return result

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    def commit_all(self, message: str) -> str:
        self.run("add", "--all")
        self.run("commit", "--quiet", "-m", message)
        return self.out("rev-parse", "HEAD")


@pytest.fixture
def clone(tmp_path: Path) -> Callable[..., Git]:
    def make(url: str, name: str = "work") -> Git:
        Git(tmp_path).run("clone", "--quiet", url, name)
        return Git(tmp_path / name)

    return make


# ---- the webhook receiver -------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    method: str = "POST"

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    status: int = 200
    delay: float = 0.0
    # path -> (status, Location or None): answers for those paths instead of `status`
    answers: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.requests)

    def wait_count(self, count: int, timeout: float = 10.0) -> list[Received]:
        return wait_for(  # type: ignore[no-any-return]
            lambda: (got := self.received()) and len(got) >= count and got, timeout
        )


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                received = Received(self.path, dict(self.headers), body, self.command)
                receiver.requests.append(received)
            if receiver.delay:
                time.sleep(receiver.delay)
            status, location = receiver.answers.get(self.path, (receiver.status, None))
            try:
                self.send_response(status)
                if location is not None:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass

        do_GET = do_POST  # noqa: N815 (the name http.server calls)

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    rec = Receiver(server)
    server.RequestHandlerClass = _handler(rec)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()
