"""REST API v4: rate limit, authentication, project lookup, then the resource routes.

Paths are matched on the raw (still percent-encoded) request path, one segment at a time,
so `projects/group%2Fhandbook` and `files/docs%2Fintro.md/raw` keep their encoded slashes
inside one segment, as GitLab requires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from . import entities
from .auth import Caller, Credential, TokenCheck
from .projects import Project, ProjectRegistry
from .ratelimit import RateLimiter
from .repository import GitError, Repository

PREFIX = "/api/v4/"
log = logging.getLogger("gitlab_emulator.api")


class ApiError(Exception):
    """An answer GitLab gives as JSON `{"message": ...}` (or `{"error": ...}`)."""

    def __init__(self, status: int, message: str, key: str = "message") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.key = key

    def response(self) -> Response:
        return JSONResponse({self.key: self.message}, status_code=self.status)


def not_found(what: str) -> ApiError:
    return ApiError(404, f"404 {what} Not Found")


@dataclass
class Call:
    """One API request, with its caller and (once resolved) its project."""

    request: Request
    caller: Caller
    segments: list[str]
    project: Project
    repo: Repository
    urls: entities.Urls

    def param(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def flag(self, name: str) -> bool:
        return self.param(name).lower() in ("true", "1", "yes")


Handler = Callable[[Call], Awaitable[Response]]
Router = Callable[[Call], Handler | None]


class RestApi:
    def __init__(
        self,
        projects: ProjectRegistry,
        tokens: TokenCheck,
        limiter: RateLimiter,
        urls: entities.Urls,
        routers: list[Router],
    ) -> None:
        self.projects = projects
        self.tokens = tokens
        self.limiter = limiter
        self.urls = urls
        self.routers = routers

    async def handle(self, request: Request) -> Response:
        caller = self.tokens.api_caller(request.headers, request.query_params)
        client = caller.token or (request.client.host if request.client else "")
        verdict = self.limiter.hit(client, caller.authenticated)
        if not verdict.allowed:
            return PlainTextResponse("Retry later\n", status_code=429, headers=verdict.headers)
        try:
            response = await self._answer(request, caller)
        except ApiError as error:
            response = error.response()
        except GitError:
            log.exception("git failed answering %s %s", request.method, request.url.path)
            response = ApiError(500, "500 Internal Server Error").response()
        response.headers.update(verdict.headers)
        return response

    async def _answer(self, request: Request, caller: Caller) -> Response:
        if caller.credential is Credential.INVALID:
            raise ApiError(401, "401 Unauthorized")
        raw_path = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
        segments = [unquote(s) for s in raw_path[len(PREFIX) :].split("/")]
        if len(segments) < 2 or segments[0] != "projects" or not segments[1]:
            raise ApiError(404, "404 Not Found", key="error")
        check_scope(caller, request.method, segments[2:])
        project = self._readable_project(segments[1], caller)
        call = Call(
            request, caller, segments[2:], project, self.projects.repository(project), self.urls
        )
        if not call.segments or call.segments == [""]:
            if request.method != "GET":
                raise ApiError(405, "405 Method Not Allowed", key="error")
            return JSONResponse(await asyncio.to_thread(_project_entity, call))
        for router in self.routers:
            handler = router(call)
            if handler is not None:
                return await handler(call)
        raise ApiError(404, "404 Not Found", key="error")

    def _readable_project(self, id_or_path: str, caller: Caller) -> Project:
        """Anonymous callers see public projects only; GitLab answers 404, not 401 or 403,
        for a project the caller may not see."""
        project = self.projects.get(id_or_path)
        if project is None or not (project.is_public or caller.authenticated):
            raise not_found("Project")
        return project


def check_scope(caller: Caller, method: str, rest: list[str]) -> None:
    """GitLab's token scopes: `read_repository` reads files only (`lib/api/files.rb` allows
    it), every other read needs `read_api` (or `api`), every write `api`. Anonymous callers
    have no token to check."""
    if not caller.authenticated:
        return
    if method in ("GET", "HEAD"):
        files = rest[:2] == ["repository", "files"]
        allowed = {"api", "read_api", "read_repository"} if files else {"api", "read_api"}
    else:
        allowed = {"api"}
    if not caller.scopes & allowed:
        raise InsufficientScope(sorted(allowed - {"read_repository"}))


class InsufficientScope(ApiError):
    def __init__(self, scopes: list[str]) -> None:
        super().__init__(403, "insufficient_scope", key="error")
        self.scopes = scopes

    def response(self) -> Response:
        body = {
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by "
            "the access token.",
            "scope": " ".join(self.scopes),
        }
        return JSONResponse(body, status_code=403)


def require_member(call: Call) -> None:
    """Hooks need a Maintainer: any valid token here; anonymous callers get 401."""
    if not call.caller.authenticated:
        raise ApiError(401, "401 Unauthorized")


def _project_entity(call: Call) -> dict[str, Any]:
    head = call.repo.branch_head(call.project.default_branch)
    last = call.repo.commit(head) if head else None
    activity = entities.gitlab_time(last.committed_date) if last else call.project.created_at
    return entities.project(
        call.project, call.urls, empty=call.repo.is_empty(), last_activity_at=activity
    )
