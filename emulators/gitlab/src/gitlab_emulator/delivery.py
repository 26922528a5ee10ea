"""Webhook delivery: one POST per event and hook, recorded as GitLab's "Recent events".

What GitLab does, and so what this does:
- one attempt per event: a 4xx, a 5xx, a timeout or a connection error is recorded and
  counted towards auto-disabling (hooks.py), and is not retried automatically; a 2xx, or a
  3xx that is not followed, counts as a success;
- redirects are followed as GitLab's HTTP client (HTTParty) follows them: to `Location`, with
  the same headers, as POST with the body after a 307 or 308 and as GET (sent without a body
  here) after any other 3xx; a 304 or a 3xx without `Location` is the answer; a fifth
  redirect in a row is an error (GitLab also checks each redirect's target against its
  local-network rules: not emulated);
- a delivery can be sent again by hand ("Resend Request") with the same body and the same
  `Idempotency-Key`, but a new `X-Gitlab-Event-UUID` and `X-Gitlab-Webhook-UUID` (GitLab
  makes both per request); a test request is sent even to a disabled hook and re-enables it
  on 2xx;
- deliveries run in the background, after the push has been answered, each on its own (one
  Sidekiq job each in GitLab): nothing orders them, and `WebhookPolicy.max_delay` lets each
  wait a random moment first so that receivers see them out of order, as they can in GitLab.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from .config import WebhookPolicy
from .hooks import Hook, HookRegistry
from .projects import now_iso

GITLAB_VERSION = "18.6.0"
RECENT_EVENTS_KEPT = 500
MAX_RESPONSE_BODY = 16 * 1024
INTERNAL_ERROR = "internal error"
REQUESTS_PER_DELIVERY = 5  # HTTParty's redirect limit: the 5th redirect in a row raises
KEEP_METHOD = frozenset({307, 308})


class RedirectionTooDeepError(Exception):
    """More redirects than GitLab's HTTP client follows."""


@dataclass
class Delivery:
    """One request to a hook and its outcome (GitLab's WebHookLog)."""

    id: int
    hook_id: int
    project_id: int
    trigger: str
    url: str
    request_headers: dict[str, str]
    request_data: dict[str, Any]
    idempotency_key: str
    created_at: str = field(default_factory=now_iso)
    response_status: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    execution_duration: float = 0.0
    internal_error_message: str = ""

    @property
    def succeeded(self) -> bool:
        """2xx: what a test request needs to report success."""
        return self.response_status.isdigit() and 200 <= int(self.response_status) < 300

    @property
    def counted_ok(self) -> bool:
        """GitLab's `response_category` :ok (a 2xx or 3xx answer): resets the failure count."""
        return self.response_status.isdigit() and 200 <= int(self.response_status) < 400

    def entity(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hook_id": self.hook_id,
            "project_id": self.project_id,
            "url": self.url,
            "trigger": self.trigger,
            "request_headers": self.request_headers,
            "request_data": self.request_data,
            "response_headers": self.response_headers,
            "response_body": self.response_body,
            "response_status": self.response_status,
            "execution_duration": round(self.execution_duration, 3),
            "internal_error_message": self.internal_error_message,
            "created_at": self.created_at,
        }


class Dispatcher:
    def __init__(
        self,
        hooks: HookRegistry,
        policy: WebhookPolicy,
        instance_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.hooks = hooks
        self.policy = policy
        self.instance_url = instance_url
        self._clock = clock
        self._ids = itertools.count(1)
        self._recent: deque[Delivery] = deque(maxlen=RECENT_EVENTS_KEPT)
        self._tasks: set[asyncio.Task[None]] = set()
        self._http = httpx.AsyncClient(timeout=policy.timeout, follow_redirects=False)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.policy.timeout + 1)
        for task in self._tasks:
            task.cancel()
        await self._http.aclose()

    # --- firing -----------------------------------------------------------------------
    def fire(self, hooks: list[Hook], event: str, trigger: str, payload: dict[str, Any]) -> None:
        """Send one event to every executable hook in the background; disabled hooks are
        skipped, as GitLab only executes hooks in its `executable` scope."""
        event_uuid = str(uuid.uuid4())
        now = self._clock()
        for hook in hooks:
            if hook.executable(now):
                delivery = self._new_delivery(hook, event, trigger, payload, event_uuid)
                self._background(self._send_later(hook, delivery))

    async def test(self, hook: Hook, payload: dict[str, Any]) -> Delivery:
        """A test request, answered synchronously (GitLab sends these from Rails)."""
        delivery = self._new_delivery(hook, "Push Hook", "push_hooks", payload, str(uuid.uuid4()))
        await self._send(hook, delivery, force=True)
        return delivery

    async def resend(self, hook: Hook, original: Delivery) -> Delivery:
        headers = dict(original.request_headers)
        headers["X-Gitlab-Event-UUID"] = str(uuid.uuid4())
        headers["X-Gitlab-Webhook-UUID"] = str(uuid.uuid4())
        delivery = Delivery(
            id=next(self._ids),
            hook_id=hook.id,
            project_id=hook.project_id,
            trigger=original.trigger,
            url=hook.url,
            request_headers=headers,
            request_data=original.request_data,
            idempotency_key=original.idempotency_key,
        )
        await self._send(hook, delivery, force=True)
        return delivery

    # --- recent events ----------------------------------------------------------------
    def recent(self, project_id: int | None = None, hook_id: int | None = None) -> list[Delivery]:
        """Newest first."""
        return [
            d
            for d in reversed(self._recent)
            if (project_id is None or d.project_id == project_id)
            and (hook_id is None or d.hook_id == hook_id)
        ]

    def find(self, hook_id: int, delivery_id: int) -> Delivery | None:
        return next((d for d in self._recent if d.id == delivery_id and d.hook_id == hook_id), None)

    async def idle(self) -> None:
        """Wait until every background delivery has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    # --- internals --------------------------------------------------------------------
    def _new_delivery(
        self, hook: Hook, event: str, trigger: str, payload: dict[str, Any], event_uuid: str
    ) -> Delivery:
        key = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"GitLab/{GITLAB_VERSION}",
            "Idempotency-Key": key,
            "X-Gitlab-Event": event,
            "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
            "X-Gitlab-Instance": self.instance_url,
            "X-Gitlab-Event-UUID": event_uuid,
        }
        return Delivery(
            id=next(self._ids),
            hook_id=hook.id,
            project_id=hook.project_id,
            trigger=trigger,
            url=hook.url,
            request_headers=headers,
            request_data=payload,
            idempotency_key=key,
        )

    def _background(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_later(self, hook: Hook, delivery: Delivery) -> None:
        if self.policy.max_delay > 0:
            await asyncio.sleep(random.uniform(0, self.policy.max_delay))  # noqa: S311 (no secret)
        await self._send(hook, delivery, force=False)

    async def _send(self, hook: Hook, delivery: Delivery, *, force: bool) -> None:
        if not force and not hook.executable(self._clock()):
            return
        headers = dict(delivery.request_headers)
        if hook.token:
            headers["X-Gitlab-Token"] = hook.token
        body = json.dumps(delivery.request_data).encode()
        started = time.monotonic()
        try:
            response = await self._post(hook.url, body, headers)
            delivery.response_status = str(response.status_code)
            delivery.response_headers = dict(response.headers)
            delivery.response_body = response.text[:MAX_RESPONSE_BODY]
        except httpx.HTTPError as exc:
            delivery.response_status = INTERNAL_ERROR
            delivery.internal_error_message = type(exc).__name__
        except RedirectionTooDeepError as exc:
            delivery.response_status = INTERNAL_ERROR
            delivery.internal_error_message = str(exc)
        delivery.execution_duration = time.monotonic() - started
        # The secret never reaches the recorded headers, as GitLab's logs redact it.
        if hook.token:
            delivery.request_headers["X-Gitlab-Token"] = "[REDACTED]"
        self._settle(hook, delivery)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """The hook's final answer, redirects followed (module docstring)."""
        method = "POST"
        target = httpx.URL(url)
        for _ in range(REQUESTS_PER_DELIVERY):
            content = body if method == "POST" else None
            response = await self._http.request(method, target, content=content, headers=headers)
            location = response.headers.get("location")
            status = response.status_code
            if location is None or not 300 <= status < 400 or status == 304:
                return response
            target = target.join(location)
            if status not in KEEP_METHOD:
                method = "GET"
        # GitLab re-raises HTTParty's error as its own, without a message: its name is logged.
        raise RedirectionTooDeepError("Gitlab::HTTP_V2::RedirectionTooDeep")

    def _settle(self, hook: Hook, delivery: Delivery) -> None:
        if delivery.counted_ok:
            hook.enable()
        else:
            hook.backoff(self._clock(), self.policy)
        self._recent.append(delivery)
        with contextlib.suppress(OSError):
            self.hooks.save()
