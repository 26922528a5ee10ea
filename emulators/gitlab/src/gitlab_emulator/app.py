"""Wiring: the Starlette application that serves the REST API, git over HTTP, webhooks and
the emulator's own admin endpoints, built from Settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from . import repository_api
from .access_log import AccessLog
from .api import RestApi
from .auth import TokenCheck
from .config import Settings
from .delivery import Dispatcher
from .entities import Urls
from .hooks import HookRegistry
from .hooks_api import HooksApi
from .lfs_http import LfsHttp, is_lfs_path
from .projects import Project, ProjectRegistry
from .push_event import RefUpdate, push_payload
from .ratelimit import RateLimiter
from .repository import Person
from .smart_http import SmartHttp

log = logging.getLogger("gitlab_emulator")


def within_hooks_limit(updates: list[RefUpdate], limit: int) -> list[RefUpdate]:
    """The updates whose hooks GitLab runs: it groups a push's changes by kind of ref
    (branches, tags) and by action (created, pushed, removed), and a group of more than
    `push_event_hooks_limit` changes runs no project hooks (Git::ProcessRefChangesService)."""
    groups: dict[tuple[bool, str], list[RefUpdate]] = {}
    for update in updates:
        groups.setdefault((update.branch is not None, update.action), []).append(update)
    kept = []
    for (_, action), group in groups.items():
        if len(group) > limit:
            log.info("push %s %d refs (> %d): no webhooks for them", action, len(group), limit)
        else:
            kept += group
    return kept


class Emulator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.urls = Urls(settings.base_url)
        self.projects = ProjectRegistry(settings.data_dir)
        self.hooks = HookRegistry(settings.data_dir)
        self.dispatcher = Dispatcher(self.hooks, settings.webhooks, self.urls.base)
        tokens = TokenCheck(settings.tokens)
        hooks_api = HooksApi(self.hooks, self.dispatcher, settings.user)
        self.api = RestApi(
            self.projects,
            tokens,
            RateLimiter(settings.rate_limit),
            self.urls,
            [repository_api.route, hooks_api.route],
        )
        self.git = SmartHttp(self.projects, tokens, self.on_push)
        self.lfs = LfsHttp(self.projects, tokens, self.urls)
        self._configure()

    def _configure(self) -> None:
        user = self.settings.user
        author = Person(user.name, user.email)
        for spec in self.settings.projects:
            project = self.projects.ensure(
                spec.path,
                visibility=spec.visibility,
                default_branch=spec.default_branch,
                seed_dir=spec.seed_dir,
                author=author,
            )
            for hook in spec.hooks:
                self.hooks.ensure(project.id, hook)

    async def on_push(self, project: Project, updates: list[RefUpdate]) -> None:
        for update in within_hooks_limit(updates, self.settings.webhooks.push_event_hooks_limit):
            branch = update.branch
            wanted = [
                h for h in self.hooks.for_project(project.id) if branch and h.wants_push(branch)
            ]
            if not wanted:
                continue
            repo = self.projects.repository(project)
            payload = await asyncio.to_thread(
                push_payload, repo, project, update, self.settings.user, self.urls
            )
            self.dispatcher.fire(wanted, "Push Hook", "push_hooks", payload)

    # --- HTTP -------------------------------------------------------------------------
    async def git_or_lfs(self, request: Request) -> Response:
        if is_lfs_path(request.url.path):
            return await self.lfs.handle(request)
        if request.method == "PUT":
            return PlainTextResponse("Not Found\n", status_code=404)
        return await self.git.handle(request)

    async def health(self, _: Request) -> Response:
        return PlainTextResponse("GitLab OK")

    async def deliveries(self, request: Request) -> Response:
        """Every recorded webhook request, newest first (the "Recent events" of all hooks)."""
        project = request.query_params.get("project_id", "")
        hook = request.query_params.get("hook_id", "")
        found = self.dispatcher.recent(
            int(project) if project.isdigit() else None, int(hook) if hook.isdigit() else None
        )
        return JSONResponse([d.entity() for d in found])

    def application(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            yield
            await self.dispatcher.close()

        methods = ["GET", "POST", "PUT", "DELETE"]
        routes = [
            Route("/-/health", self.health, methods=["GET"]),
            Route("/-/emulator/deliveries", self.deliveries, methods=["GET"]),
            Route("/api/v4/{rest:path}", self.api.handle, methods=methods),
            Route("/{rest:path}", self.git_or_lfs, methods=["GET", "POST", "PUT"]),
        ]
        return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(AccessLog)])
