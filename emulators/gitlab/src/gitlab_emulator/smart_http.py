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
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

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
            # Buffered, not streamed: a streamed answer was cut short now and then under load
            # ("transfer closed with outstanding read data remaining"), and a handbook's pack
            # is small.
            return await self._buffered(request, git, project, caller)
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
        if "content-length" in request.headers:
            # Without it http-backend reads the body until EOF on its stdin.
            env["CONTENT_LENGTH"] = request.headers["content-length"]
        if "content-encoding" in request.headers:
            env["HTTP_CONTENT_ENCODING"] = request.headers["content-encoding"]
        if "git-protocol" in request.headers:
            env["GIT_PROTOCOL"] = request.headers["git-protocol"]
        return env

    async def _start(
        self,
        request: Request,
        git: GitRequest,
        project: Project,
        caller: Caller,
        body: AsyncIterator[bytes],
    ) -> Backend:
        process = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._environment(request, git, project, caller),
        )
        backend = Backend(
            process,
            asyncio.create_task(_feed(body, process)),
            asyncio.create_task(_drain(process)),
        )
        await backend.read_headers()
        return backend

    async def _buffered(
        self, request: Request, git: GitRequest, project: Project, caller: Caller
    ) -> Response:
        backend = await self._start(request, git, project, caller, request.stream())
        content = b"".join([chunk async for chunk in backend.chunks()])
        await backend.finish()
        return Response(content, status_code=backend.status, headers=backend.headers)


@dataclass
class Backend:
    """One running `git http-backend`: its request feeder, its stderr reader, and the CGI
    status and headers it printed first."""

    process: asyncio.subprocess.Process
    feeder: asyncio.Task[None]
    stderr: asyncio.Task[bytes]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    async def read_headers(self) -> None:
        assert self.process.stdout is not None
        while line := (await self.process.stdout.readline()).decode("latin-1").rstrip("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                self.status = int(value.strip().split(" ", 1)[0])
            else:
                self.headers[name.strip()] = value.strip()

    async def chunks(self) -> AsyncIterator[bytes]:
        assert self.process.stdout is not None
        while chunk := await self.process.stdout.read(_CHUNK):
            yield chunk

    async def finish(self, *, abort: bool = False) -> None:
        """Reap the process; `abort` (the client went away) kills it first, since nobody
        will read the rest of its output."""
        if abort and self.process.returncode is None:
            self.process.kill()
        await self.feeder
        stderr = await self.stderr
        code = await self.process.wait()
        if (code != 0 and not abort) or stderr:
            log.warning(
                "git http-backend exited %s: %s", code, stderr.decode(errors="replace")[:500]
            )


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


async def _feed(body: AsyncIterator[bytes], process: asyncio.subprocess.Process) -> None:
    assert process.stdin is not None
    try:
        async for chunk in body:
            if not chunk:
                continue
            process.stdin.write(chunk)
            await process.stdin.drain()
    except (BrokenPipeError, ConnectionResetError, ClientDisconnect):
        pass  # the backend stopped reading, or the client left: the exit status tells
    except RuntimeError:
        # uvloop's way of saying the same: a ref advertisement (GET info/refs) reads no
        # body, and when git had exited and its pipe was closed before the feeder's first
        # write, that write raised here and the request failed with a 500 (seen in CI).
        if process.returncode is None and not process.stdin.is_closing():
            raise
    finally:
        process.stdin.close()


async def _drain(process: asyncio.subprocess.Process) -> bytes:
    assert process.stderr is not None
    return await process.stderr.read()
