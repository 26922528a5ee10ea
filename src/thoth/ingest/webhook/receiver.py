"""From one request to its outcome: authenticate, filter, parse, decide, enqueue.

The order is the cost order: the secret token is checked before anything else is looked at,
so an unauthenticated caller never gets its body read; events other than pushes are ignored
before their body is parsed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from google.api_core import exceptions as gexc
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)
from tenacity.wait import wait_base

from thoth.ingest.push import DELIVERY_ID_PATTERN, PUSH_PATH, PushTask, push_task_name
from thoth.ingest.tasks import Enqueuer
from thoth.ingest.webhook.body import BodyRefused, raw_json_body
from thoth.ingest.webhook.decision import Ignored, decide, ignored_event
from thoth.ingest.webhook.event import (
    EVENT_HEADER,
    EVENT_UUID_HEADER,
    IDEMPOTENCY_HEADER,
    TOKEN_HEADER,
    PushHook,
)
from thoth.ingest.webhook.target import Target

log = logging.getLogger("thoth.ingest.webhook")

# GitLab gives a webhook 10 s; a Cloud Tasks hiccup is retried for part of that, then the
# event is answered 503 (GitLab records it; it can be resent from the hook's Recent events).
# Each call is bounded by what is left of the budget: the client's own default is 20 s, and
# tenacity only looks at the clock between attempts.
ENQUEUE_BUDGET_SECONDS = 6.0
MIN_CALL_SECONDS = 0.5
_TRANSIENT = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError)


@dataclass(frozen=True)
class Outcome:
    """What the receiver answers, and what its log line says."""

    status: int
    result: str  # enqueued | duplicate | ignored | refused | failed
    reason: str | None = None
    task: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    def response(self) -> JSONResponse:
        body = {"result": self.result, "reason": self.reason, "task": self.task}
        return JSONResponse({k: v for k, v in body.items() if v is not None}, self.status)


def refused(status: int, reason: str) -> Outcome:
    return Outcome(status, "refused", reason)


async def receive(request: Request, target: Target, queue: Enqueuer) -> Outcome:
    headers = request.headers
    if not target.token_matches(headers.get(TOKEN_HEADER)):
        return refused(401, "unauthorized")  # never which part of the token was wrong
    skipped = ignored_event(headers.get(EVENT_HEADER))
    if skipped is not None:
        return Outcome(200, "ignored", skipped.reason)
    event_uuid = headers.get(EVENT_UUID_HEADER)
    if not event_uuid:
        return refused(400, f"{EVENT_UUID_HEADER} is required")
    key = headers.get(IDEMPOTENCY_HEADER) or event_uuid
    for name, value in ((EVENT_UUID_HEADER, event_uuid), (IDEMPOTENCY_HEADER, key)):
        if not re.fullmatch(DELIVERY_ID_PATTERN, value):
            return refused(400, f"{name} must be 1-64 letters, digits or dashes")
    try:
        hook = PushHook.model_validate_json(await raw_json_body(request))
        decision = decide(hook, target, event_uuid, datetime.now(UTC))
    except BodyRefused as exc:
        return refused(exc.status, exc.detail)
    except ValidationError as exc:
        if exc.errors()[0]["type"] == "json_invalid":
            return refused(400, "the body is not valid JSON")
        return refused(400, f"not a valid push event: {_first_error(exc)}")
    facts = {"ref": hook.ref[:255], "commit": hook.after}
    if isinstance(decision, Ignored):
        return Outcome(200, "ignored", decision.reason, fields=facts)
    outcome = await run_in_threadpool(enqueue, queue, decision, key)
    return Outcome(outcome.status, outcome.result, outcome.reason, outcome.task, facts)


def enqueue(queue: Enqueuer, task: PushTask, key: str) -> Outcome:
    """One task per event, named after its delivery `key` (GitLab's Idempotency-Key, which a
    resend keeps): Cloud Tasks refuses a name it has seen recently, so a redelivered event
    enqueues nothing. Past that window a resend is queued again, and the worker, which
    indexes the branch's head rather than the event's commit, makes it harmless."""
    name = push_task_name(key)
    deadline = time.monotonic() + ENQUEUE_BUDGET_SECONDS
    try:
        for attempt in Retrying(
            stop=stop_after_delay(ENQUEUE_BUDGET_SECONDS),
            wait=_within(deadline, wait_exponential(multiplier=0.2, max=2)),
            retry=retry_if_exception_type(_TRANSIENT),
            reraise=True,
        ):
            with attempt:
                left = max(MIN_CALL_SECONDS, deadline - time.monotonic())
                created = queue.enqueue(name, PUSH_PATH, task.model_dump(mode="json"), left)
    except gexc.GoogleAPIError as exc:
        log.warning("enqueue of %s failed: %s", name, type(exc).__name__)
        return Outcome(503, "failed", "the push could not be queued; resend the event", name)
    if not created:
        return Outcome(200, "duplicate", "this event was already queued", name)
    return Outcome(202, "enqueued", None, name)


def _within(deadline: float, wait: wait_base) -> Callable[[RetryCallState], float]:
    """`wait`, cut to what is left before `deadline`: the budget bounds the waits too."""

    def bounded(state: RetryCallState) -> float:
        return max(0.0, min(wait(state), deadline - time.monotonic()))

    return bounded


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{where}: {error['msg']}"[:200]
