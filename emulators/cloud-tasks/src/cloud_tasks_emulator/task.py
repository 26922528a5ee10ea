"""A task: validation on create, its state and attempts, its proto view, and its HTTP call."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import aiohttp
import grpc
from google.cloud import tasks_v2

from .errors import invalid, unimplemented
from .names import TaskName
from .oidc import TokenIssuer
from .queue_config import RetryPolicy, retry_from_proto

MAX_TASK_BYTES = 100 * 1024
MAX_HEADER_BYTES = 80 * 1024
MAX_URL_LENGTH = 2083
DEFAULT_DEADLINE = 600.0
MIN_DEADLINE = 15.0
MAX_DEADLINE = 1800.0
MAX_SCHEDULE_AHEAD = 30 * 24 * 3600.0
USER_AGENT = "Google-Cloud-Tasks"
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_DROPPED_HEADERS = {"host", "content-length", "user-agent"}
_RESERVED_PREFIXES = ("x-cloudtasks-", "x-google-", "x-appengine-")
# Characters a URL may carry unencoded; anything else is percent-encoded before the length check.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def code_of(status: grpc.StatusCode) -> int:
    """The numeric google.rpc.Code of a gRPC status."""
    value: tuple[int, str] = status.value
    return value[0]


_HTTP_TO_RPC = {
    400: code_of(grpc.StatusCode.INVALID_ARGUMENT),
    401: code_of(grpc.StatusCode.UNAUTHENTICATED),
    403: code_of(grpc.StatusCode.PERMISSION_DENIED),
    404: code_of(grpc.StatusCode.NOT_FOUND),
    409: code_of(grpc.StatusCode.ABORTED),
    429: code_of(grpc.StatusCode.RESOURCE_EXHAUSTED),
    499: code_of(grpc.StatusCode.CANCELLED),
    501: code_of(grpc.StatusCode.UNIMPLEMENTED),
    503: code_of(grpc.StatusCode.UNAVAILABLE),
    504: code_of(grpc.StatusCode.DEADLINE_EXCEEDED),
}


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def rpc_code_for_http(status: int) -> int:
    if 200 <= status < 300:
        return code_of(grpc.StatusCode.OK)
    if status in _HTTP_TO_RPC:
        return _HTTP_TO_RPC[status]
    return code_of(
        grpc.StatusCode.FAILED_PRECONDITION if status < 500 else grpc.StatusCode.INTERNAL
    )


@dataclass
class HttpCall:
    """The validated, immutable part of an http_request task."""

    url: str
    method: str
    headers: dict[str, str]
    body: bytes
    oidc_email: str = ""
    oidc_audience: str = ""
    oauth_email: str = ""
    oauth_scope: str = ""
    proto: tasks_v2.HttpRequest = field(default_factory=tasks_v2.HttpRequest, repr=False)


@dataclass
class AttemptRecord:
    schedule_time: float
    dispatch_time: float
    response_time: float | None = None
    http_status: int | None = None
    rpc_code: int | None = None
    message: str = ""
    run_at: float | None = None  # when RunTask forced this attempt

    def to_proto(self, full: bool) -> tasks_v2.Attempt:
        attempt = tasks_v2.Attempt(
            schedule_time=to_datetime(self.schedule_time),
            dispatch_time=to_datetime(self.dispatch_time),
        )
        if full and self.response_time is not None:
            attempt.response_time = to_datetime(self.response_time)
        if full and self.rpc_code is not None:
            attempt.response_status = {"code": self.rpc_code, "message": self.message}
        return attempt


@dataclass
class TaskState:
    name: TaskName
    call: HttpCall
    dispatch_deadline: float
    create_time: float
    schedule_time: float
    retry: RetryPolicy | None = None  # the task-level retry_config, when given
    dispatch_count: int = 0
    response_count: int = 0
    execution_count: int = 0  # responses other than 5xx (X-CloudTasks-TaskExecutionCount)
    first_attempt: AttemptRecord | None = None
    last_attempt: AttemptRecord | None = None
    previous_response: int | None = None
    retry_reason: str = ""
    in_flight: int = 0  # attempts awaiting their response (RunTask may add a second)
    removed: bool = False
    version: int = 0

    def to_proto(self, view: tasks_v2.Task.View) -> tasks_v2.Task:
        full = view == tasks_v2.Task.View.FULL
        request = tasks_v2.HttpRequest(
            url=self.call.url, http_method=getattr(tasks_v2.HttpMethod, self.call.method)
        )
        if self.call.oidc_email:
            request.oidc_token = self.call.proto.oidc_token
        if self.call.oauth_email:
            request.oauth_token = self.call.proto.oauth_token
        if full:
            request.headers = dict(self.call.headers)
            request.body = self.call.body
        task = tasks_v2.Task(
            name=str(self.name),
            http_request=request,
            schedule_time=to_datetime(self.schedule_time),
            create_time=to_datetime(math.floor(self.create_time)),
            dispatch_deadline=timedelta(seconds=self.dispatch_deadline),
            dispatch_count=self.dispatch_count,
            response_count=self.response_count,
            view=tasks_v2.Task.View.FULL if full else tasks_v2.Task.View.BASIC,
        )
        if self.first_attempt is not None:
            task.first_attempt = tasks_v2.Attempt(
                dispatch_time=to_datetime(self.first_attempt.dispatch_time)
            )
        if self.last_attempt is not None:
            task.last_attempt = self.last_attempt.to_proto(full=True)
        if self.retry is not None:
            task.retry_config = self.retry.to_proto()
        return task

    def begin_attempt(self, now: float, run_at: float | None = None) -> AttemptRecord:
        attempt = AttemptRecord(schedule_time=self.schedule_time, dispatch_time=now, run_at=run_at)
        self.dispatch_count += 1
        if self.first_attempt is None:
            self.first_attempt = attempt
        self.last_attempt = attempt
        self.in_flight += 1
        return attempt


def _validate_url(url: str) -> None:
    if not url:
        raise invalid("http_request.url is required")
    if len(quote(url, safe=_URL_SAFE)) > MAX_URL_LENGTH:
        raise invalid(f"http_request.url is longer than {MAX_URL_LENGTH} characters once encoded")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f"http_request.url must be an absolute http(s) URL, got {url!r}")


def validate_http_request(msg: tasks_v2.HttpRequest) -> HttpCall:
    _validate_url(msg.url)
    method_enum = tasks_v2.HttpMethod(msg.http_method)
    method = (
        "POST" if method_enum == tasks_v2.HttpMethod.HTTP_METHOD_UNSPECIFIED else (method_enum.name)
    )
    body = bytes(msg.body)
    if body and method not in _BODY_METHODS:
        raise invalid(f"a body is only allowed for POST, PUT or PATCH, not {method}")
    headers = {str(k): str(v) for k, v in msg.headers.items()}
    has_oidc = "oidc_token" in msg
    has_oauth = "oauth_token" in msg
    if has_oidc and has_oauth:
        raise invalid("set at most one of http_request.oidc_token and http_request.oauth_token")
    call = HttpCall(url=msg.url, method=method, headers=headers, body=body, proto=msg)
    if has_oidc:
        if not msg.oidc_token.service_account_email:
            raise invalid("http_request.oidc_token.service_account_email is required")
        call.oidc_email = msg.oidc_token.service_account_email
        call.oidc_audience = msg.oidc_token.audience
    if has_oauth:
        if not msg.oauth_token.service_account_email:
            raise invalid("http_request.oauth_token.service_account_email is required")
        call.oauth_email = msg.oauth_token.service_account_email
        call.oauth_scope = msg.oauth_token.scope
    header_bytes = sum(len(k.encode()) + len(v.encode()) for k, v in headers.items())
    if header_bytes >= MAX_HEADER_BYTES:
        raise invalid(f"http_request.headers take {header_bytes} bytes; they must be under 80KB")
    return call


def validate_deadline(task: tasks_v2.Task) -> float:
    if "dispatch_deadline" not in task:
        return DEFAULT_DEADLINE
    seconds = math.floor(float(task.dispatch_deadline.total_seconds()) * 1000) / 1000
    if seconds == 0:
        return DEFAULT_DEADLINE
    if not MIN_DEADLINE <= seconds <= MAX_DEADLINE:
        raise invalid("dispatch_deadline must be between 15 seconds and 30 minutes")
    return seconds


def validate_schedule_time(task: tasks_v2.Task, now: float) -> float:
    if "schedule_time" not in task:
        return now
    when = float(task.schedule_time.timestamp())
    if when <= now:
        return now
    if when > now + MAX_SCHEDULE_AHEAD:
        raise invalid("schedule_time cannot be more than 30 days in the future")
    return when


def new_task_state(task: tasks_v2.Task, name: TaskName, now: float) -> TaskState:
    """Validate a CreateTask payload and build the task's initial state."""
    if "app_engine_http_request" in task:
        raise unimplemented("app_engine_http_request tasks are not supported by this emulator")
    if "http_request" not in task:
        raise invalid("task.http_request is required")
    size = len(tasks_v2.Task.serialize(task))
    if size > MAX_TASK_BYTES:
        raise invalid(f"task size {size} bytes exceeds the 100KB limit")
    call = validate_http_request(task.http_request)
    retry = None
    if "retry_config" in task:
        retry = retry_from_proto(task.retry_config, RetryPolicy())
    return TaskState(
        name=name,
        call=call,
        dispatch_deadline=validate_deadline(task),
        create_time=now,
        schedule_time=validate_schedule_time(task, now),
        retry=retry,
    )


@dataclass
class Delivery:
    status: int | None
    latency: float
    error: str = ""
    retry_after: float | None = None  # seconds, from a 429/503 response's Retry-After


def _retry_after(status: int, value: str | None) -> float | None:
    if status not in (429, 503) or not value or not value.strip().isdigit():
        return None
    return float(value.strip())


def _forwarded(name: str, has_token: bool) -> bool:
    lowered = name.lower()
    if lowered in _DROPPED_HEADERS or lowered.startswith(_RESERVED_PREFIXES):
        return False
    return not (has_token and lowered == "authorization")


def build_headers(
    state: TaskState, call: HttpCall, queue_id: str, issuer: TokenIssuer, now: float
) -> dict[str, str]:
    has_token = bool(call.oidc_email or call.oauth_email)
    headers = {k: v for k, v in call.headers.items() if _forwarded(k, has_token)}
    headers["User-Agent"] = USER_AGENT
    headers["X-CloudTasks-QueueName"] = queue_id
    headers["X-CloudTasks-TaskName"] = state.name.task_id
    headers["X-CloudTasks-TaskRetryCount"] = str(state.dispatch_count - 1)
    headers["X-CloudTasks-TaskExecutionCount"] = str(state.execution_count)
    headers["X-CloudTasks-TaskETA"] = f"{state.schedule_time:.6f}"
    if state.previous_response is not None:
        headers["X-CloudTasks-TaskPreviousResponse"] = str(state.previous_response)
    if state.retry_reason:
        headers["X-CloudTasks-TaskRetryReason"] = state.retry_reason
    if call.oidc_email:
        audience = call.oidc_audience or call.url
        token = issuer.id_token(call.oidc_email, audience, now=now)
        headers["Authorization"] = f"Bearer {token}"
    elif call.oauth_email:
        headers["Authorization"] = f"Bearer {issuer.access_token()}"
    return headers


# Cloud Tasks sets no Content-Type of its own; aiohttp would add application/octet-stream.
_NO_AUTO_HEADERS = ("Content-Type",)


async def send(
    session: aiohttp.ClientSession, call: HttpCall, headers: dict[str, str], deadline: float
) -> Delivery:
    """Make the HTTP call; the dispatch deadline bounds the whole exchange."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(deadline):
            async with session.request(
                call.method,
                call.url,
                headers=headers,
                data=call.body or None,
                skip_auto_headers=_NO_AUTO_HEADERS,
            ) as response:
                await response.read()
                status = response.status
                retry_after = _retry_after(status, response.headers.get("Retry-After"))
        return Delivery(status, time.perf_counter() - started, retry_after=retry_after)
    except TimeoutError:
        return Delivery(None, time.perf_counter() - started, "dispatch deadline exceeded")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return Delivery(None, time.perf_counter() - started, detail)
