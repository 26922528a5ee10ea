"""`/projects/:id/hooks`: add, list, show and delete project webhooks, their recent events,
resending an event, and test requests (which re-enable a disabled hook on 2xx)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse, Response

from .api import ApiError, Call, Handler, not_found, require_member
from .config import User
from .delivery import Dispatcher
from .hooks import Hook, HookError, HookRegistry, hook_entity
from .push_event import RefUpdate, push_payload
from .repository import ZERO_SHA

_BOOLEAN_FIELDS = ("push_events",)
_TEXT_FIELDS = ("url", "token", "push_events_branch_filter", "branch_filter_strategy")


class HooksApi:
    def __init__(self, hooks: HookRegistry, dispatcher: Dispatcher, user: User) -> None:
        self.hooks = hooks
        self.dispatcher = dispatcher
        self.user = user

    def route(self, call: Call) -> Handler | None:
        s, method = call.segments, call.request.method
        if not s or s[0] != "hooks":
            return None
        match (method, s[1:]):
            case ("GET", []):
                return self.list
            case ("POST", []):
                return self.add
            case ("GET", [_]):
                return self.show
            case ("DELETE", [_]):
                return self.delete
            case ("GET", [_, "events"]):
                return self.events
            case ("POST", [_, "events", _, "resend"]):
                return self.resend
            case ("POST", [_, "test", _]):
                return self.test
        return None

    async def list(self, call: Call) -> Response:
        require_member(call)
        return JSONResponse([hook_entity(h) for h in self.hooks.for_project(call.project.id)])

    async def add(self, call: Call) -> Response:
        require_member(call)
        attrs = _attributes(await call.request.body(), call.request.headers.get("content-type"))
        attrs |= {k: v for k, v in call.request.query_params.items() if k not in attrs}
        if not attrs.get("url"):
            raise ApiError(400, "url is missing", key="error")
        try:
            hook = self.hooks.add(call.project.id, _typed(attrs))
        except HookError as exc:
            raise ApiError(422, str(exc)) from exc
        return JSONResponse(hook_entity(hook), status_code=201)

    async def show(self, call: Call) -> Response:
        require_member(call)
        return JSONResponse(hook_entity(self._hook(call)))

    async def delete(self, call: Call) -> Response:
        require_member(call)
        self.hooks.delete(self._hook(call))
        return Response(status_code=204)

    async def events(self, call: Call) -> Response:
        require_member(call)
        hook = self._hook(call)
        return JSONResponse([d.entity() for d in self.dispatcher.recent(hook_id=hook.id)])

    async def resend(self, call: Call) -> Response:
        require_member(call)
        hook = self._hook(call)
        original = self.dispatcher.find(hook.id, _number(call.segments[3]))
        if original is None:
            raise not_found("Hook Log")
        if original.url != hook.url:
            raise ApiError(422, "The hook URL has changed, and this log entry cannot be retried")
        delivery = await self.dispatcher.resend(hook, original)
        return JSONResponse({"response_status": delivery.response_status}, status_code=201)

    async def test(self, call: Call) -> Response:
        require_member(call)
        hook = self._hook(call)
        if call.segments[3] != "push_events":
            raise ApiError(422, f"Testing {call.segments[3]} is not supported by the emulator")
        head = call.repo.branch_head(call.project.default_branch)
        if head is None:
            raise ApiError(422, "Ensure the project has at least one commit.")
        payload = await asyncio.to_thread(self._sample_push, call, head)
        delivery = await self.dispatcher.test(hook, payload)
        if not delivery.succeeded:
            raise ApiError(422, f"[Hook execution failed: {delivery.response_status}]")
        return JSONResponse({"message": "201 Created"}, status_code=201)

    def _sample_push(self, call: Call, head: str) -> dict[str, Any]:
        commit = call.repo.commit(head)
        before = commit.parents[0] if commit and commit.parents else ZERO_SHA
        update = RefUpdate(f"refs/heads/{call.project.default_branch}", before, head)
        return push_payload(call.repo, call.project, update, self.user, call.urls)

    def _hook(self, call: Call) -> Hook:
        hook = self.hooks.get(call.project.id, _number(call.segments[1]))
        if hook is None:
            raise not_found("Hook")
        return hook


def _number(text: str) -> int:
    return int(text) if text.isdigit() else -1


def _attributes(body: bytes, content_type: str | None) -> dict[str, Any]:
    if not body:
        return {}
    if content_type and "json" in content_type:
        try:
            value = json.loads(body)
        except ValueError as exc:
            raise ApiError(
                400, "The provided content-type 'application/json' is not supported"
            ) from exc
        return dict(value) if isinstance(value, dict) else {}
    return dict(parse_qsl(body.decode(errors="replace")))


def _typed(attrs: dict[str, Any]) -> dict[str, Any]:
    typed: dict[str, Any] = {k: str(attrs[k]) for k in _TEXT_FIELDS if k in attrs}
    for key in _BOOLEAN_FIELDS:
        if key in attrs:
            value = attrs[key]
            typed[key] = value if isinstance(value, bool) else str(value).lower() == "true"
    return typed
