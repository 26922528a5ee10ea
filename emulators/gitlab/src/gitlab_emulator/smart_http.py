"""git over smart HTTP at `/<namespace>/<project>.git/...`, served by `git http-backend`.

The emulator decides who may read and write (as GitLab does) and runs git's own CGI program
for the protocol itself. A push (receive-pack) runs under the project's push lock, with the
refs read before and after it, so the webhook layer learns exactly which refs it changed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from .auth import Caller, Credential, TokenCheck
from .projects import Project, ProjectRegistry
from .push_event import RefUpdate, ref_updates

log = logging.getLogger("gitlab_emulator.git")

_GIT_PATH = re.compile(
    r"^/(?P<project>.+?)\.git(?P<rest>/info/refs|/git-upload-pack|/git-receive-pack)$"
)
_SERVICES = ("git-upload-pack", "git-receive-pack")
_CHUNK = 64 * 1024
DENIED = "HTTP Basic: Access denied. If a password was provided for Git authentication, the password was incorrect or you're required to use a token instead of a password.\n"  # noqa: E501
NOT_FOUND = (
    "The project you were looking for could not be found or you don't have permission to view it.\n"
)

PushListener = Callable[[Project, list[RefUpdate]], Awaitable[None]]


@dataclass(frozen=True)
class GitRequest:
    project_path: str
    service: str
    rest: str  # /info/refs, /git-upload-pack or /git-receive-pack


def parse(request: Request) -> GitRequest | None:
    match = _GIT_PATH.match(request.url.path)
    if match is None:
        return None
    rest = match["rest"]
    service = request.query_params.get("service", "") if rest == "/info/refs" else rest[1:]
    if service not in _SERVICES:
        return None
    return GitRequest(match["project"], service, rest)


class SmartHttp:
    def __init__(
        self, projects: ProjectRegistry, tokens: TokenCheck, on_push: PushListener
    ) -> None:
        self.projects = projects
        self.tokens = tokens
        self.on_push = on_push
        self._push_locks: dict[int, asyncio.Lock] = {}

    async def handle(self, request: Request) -> Response:
        git = parse(request)
        if git is None:
            return PlainTextResponse("Not Found\n", status_code=404)
        caller = self.tokens.git_caller(request.headers)
        project = self.projects.get(git.project_path)
        refusal = _refusal(caller, project, write=git.service == "git-receive-pack")
        if refusal is not None:
            return refusal
        assert project is not None  # _refusal answers for unknown projects
        is_push = git.service == "git-receive-pack" and request.method == "POST"
        if not is_push:
            return await self._stream(request, git, project, caller)
        lock = self._push_locks.setdefault(project.id, asyncio.Lock())
        async with lock:
            repo = self.projects.repository(project)
            before = await asyncio.to_thread(repo.refs)
            response = await self._buffered(request, git, project, caller)
            after = await asyncio.to_thread(repo.refs)
        updates = ref_updates(before, after)
        if updates:
            await self.on_push(project, updates)
        return response

    # --- the CGI program --------------------------------------------------------------
    def _environment(
        self, request: Request, git: GitRequest, project: Project, caller: Caller
    ) -> dict[str, str]:
        env = {
            "GIT_PROJECT_ROOT": str(Path(self.projects.repos_dir).resolve()),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{project.path_with_namespace}.git{git.rest}",
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": request.url.query,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "REMOTE_ADDR": request.client.host if request.client else "127.0.0.1",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        if caller.authenticated:
            env["REMOTE_USER"] = "root"
        if "content-encoding" in request.headers:
            env["HTTP_CONTENT_ENCODING"] = request.headers["content-encoding"]
        if "git-protocol" in request.headers:
            env["GIT_PROTOCOL"] = request.headers["git-protocol"]
        return env

    async def _start(
        self, request: Request, git: GitRequest, project: Project, caller: Caller
    ) -> tuple[asyncio.subprocess.Process, asyncio.Task[None], dict[str, str], int]:
        process = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._environment(request, git, project, caller),
        )
        feeder = asyncio.create_task(_feed(request, process))
        headers, status = await _read_cgi_headers(process)
        return process, feeder, headers, status

    async def _stream(
        self, request: Request, git: GitRequest, project: Project, caller: Caller
    ) -> Response:
        process, feeder, headers, status = await self._start(request, git, project, caller)

        async def body() -> AsyncIterator[bytes]:
            assert process.stdout is not None
            try:
                while chunk := await process.stdout.read(_CHUNK):
                    yield chunk
            finally:
                await _finish(process, feeder)

        return StreamingResponse(body(), status_code=status, headers=headers)

    async def _buffered(
        self, request: Request, git: GitRequest, project: Project, caller: Caller
    ) -> Response:
        process, feeder, headers, status = await self._start(request, git, project, caller)
        assert process.stdout is not None
        content = await process.stdout.read()
        await _finish(process, feeder)
        return Response(content, status_code=status, headers=headers)


def _refusal(caller: Caller, project: Project | None, *, write: bool) -> Response | None:
    """GitLab's answers: a basic-auth challenge to anonymous callers (even for unknown
    projects, which it does not reveal), 401 for a wrong token, 404 for an unknown project."""
    if caller.credential is Credential.INVALID:
        return _challenge(DENIED)
    if project is None:
        return _challenge("") if not caller.authenticated else _not_found()
    if write or not project.is_public:
        return None if caller.authenticated else _challenge("")
    return None


def _challenge(text: str) -> Response:
    return PlainTextResponse(
        text, status_code=401, headers={"WWW-Authenticate": 'Basic realm="GitLab"'}
    )


def _not_found() -> Response:
    return PlainTextResponse(NOT_FOUND, status_code=404)


async def _feed(request: Request, process: asyncio.subprocess.Process) -> None:
    assert process.stdin is not None
    try:
        async for chunk in request.stream():
            process.stdin.write(chunk)
            await process.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the backend stopped reading: its own answer says why
    finally:
        process.stdin.close()


async def _read_cgi_headers(process: asyncio.subprocess.Process) -> tuple[dict[str, str], int]:
    assert process.stdout is not None
    headers: dict[str, str] = {}
    status = 200
    while line := (await process.stdout.readline()).decode("latin-1").rstrip("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split(" ", 1)[0])
        else:
            headers[name.strip()] = value.strip()
    return headers, status


async def _finish(process: asyncio.subprocess.Process, feeder: asyncio.Task[None]) -> None:
    await feeder
    assert process.stderr is not None
    stderr = await process.stderr.read()
    code = await process.wait()
    if code != 0 or stderr:
        log.warning("git http-backend exited %s: %s", code, stderr.decode(errors="replace")[:500])
