"""The google.cloud.tasks.v2.CloudTasks gRPC service, served without generated stubs."""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.cloud import tasks_v2

from . import names
from .errors import ApiError, already_exists, invalid, not_found, unimplemented
from .filters import parse_queue_filter
from .http_target import TARGET_FIELDS, merge_target, target_from_proto
from .queue import DispatchContext, Queue
from .queue_config import (
    LOGGING_FIELDS,
    RATE_FIELDS,
    RETRY_FIELDS,
    RateConfig,
    RetryPolicy,
    logging_from_proto,
    rate_from_proto,
    retry_from_proto,
)
from .task import TaskState, new_task_state

SERVICE_NAME = "google.cloud.tasks.v2.CloudTasks"
MAX_QUEUE_PAGE = 9800
MAX_TASK_PAGE = 1000
# Updatable fields and their sub-fields; state changes only via Pause/ResumeQueue.
_UPDATABLE = {
    "rate_limits": RATE_FIELDS,
    "retry_config": RETRY_FIELDS,
    "stackdriver_logging_config": LOGGING_FIELDS,
    "http_target": TARGET_FIELDS,
}
_UNSUPPORTED = {
    "app_engine_routing_override": "App Engine routing is not supported by this emulator",
}

logger = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")


def _encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode("utf-8")).decode("ascii")


def _decode_token(token: str) -> str:
    if not token:
        return ""
    try:
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode(
            "utf-8"
        )
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise invalid("invalid page_token") from exc


def _page(keys: list[str], page_size: int, page_token: str, limit: int) -> tuple[list[str], str]:
    """Return one page of sorted `keys` after the token's key, and the next token."""
    if page_size < 0:
        raise invalid("page_size must be >= 0")
    size = min(page_size or limit, limit)
    after = _decode_token(page_token)
    remaining = [k for k in sorted(keys) if k > after] if after else sorted(keys)
    page = remaining[:size]
    next_token = _encode_token(page[-1]) if len(remaining) > size else ""
    return page, next_token


class CloudTasksService:
    """Holds every queue and implements the RPCs on them."""

    def __init__(self, ctx: DispatchContext) -> None:
        self.ctx = ctx
        self.queues: dict[str, Queue] = {}

    # ---- helpers ---------------------------------------------------------------------------

    def _queue(self, name: str) -> Queue:
        parsed = names.parse_queue(name)
        queue = self.queues.get(str(parsed))
        if queue is None:
            raise not_found(f"queue {name} does not exist")
        return queue

    def add_queue(self, name: str, msg: tasks_v2.Queue | None = None) -> Queue:
        parsed = names.parse_queue(name)
        if str(parsed) in self.queues:
            raise already_exists(f"queue {name} already exists")
        msg = msg or tasks_v2.Queue()
        _refuse_unsupported(msg)
        rate = rate_from_proto(msg.rate_limits, RateConfig())
        retry = retry_from_proto(msg.retry_config, RetryPolicy())
        target = target_from_proto(msg)
        queue = Queue(parsed, rate, retry, self.ctx, logging_from_proto(msg))
        queue.http_target = target
        queue.start()
        self.queues[str(parsed)] = queue
        self.ctx.log.event("queue created", queue=str(parsed))
        return queue

    # ---- queues ----------------------------------------------------------------------------

    async def list_queues(self, req: tasks_v2.ListQueuesRequest) -> tasks_v2.ListQueuesResponse:
        parent = names.parse_location(req.parent)
        matches = parse_queue_filter(req.filter)
        keys = [
            k
            for k, queue in self.queues.items()
            if k.startswith(parent + "/queues/") and matches(queue.to_proto().state)
        ]
        page, token = _page(keys, req.page_size, req.page_token, MAX_QUEUE_PAGE)
        return tasks_v2.ListQueuesResponse(
            queues=[self.queues[k].to_proto() for k in page], next_page_token=token
        )

    async def get_queue(self, req: tasks_v2.GetQueueRequest) -> tasks_v2.Queue:
        return self._queue(req.name).to_proto()

    async def create_queue(self, req: tasks_v2.CreateQueueRequest) -> tasks_v2.Queue:
        parent = names.parse_location(req.parent)
        queue_name = names.parse_queue(req.queue.name)
        if queue_name.parent != parent:
            raise invalid(f"queue name {req.queue.name} is not under parent {parent}")
        return self.add_queue(req.queue.name, req.queue).to_proto()

    async def update_queue(self, req: tasks_v2.UpdateQueueRequest) -> tasks_v2.Queue:
        name = names.parse_queue(req.queue.name)
        paths = set(req.update_mask.paths) if "update_mask" in req else set()
        _check_mask(paths)
        _refuse_unsupported(req.queue)
        queue = self.queues.get(str(name))
        if queue is None:
            return self.add_queue(str(name), req.queue).to_proto()
        rate, retry, logging = queue.rate, queue.retry, queue.logging
        if (fields := _mask_fields(paths, "rate_limits")) != set():
            rate = rate_from_proto(req.queue.rate_limits, rate, fields)
        if (fields := _mask_fields(paths, "retry_config")) != set():
            retry = retry_from_proto(req.queue.retry_config, retry, fields)
        if _mask_fields(paths, "stackdriver_logging_config") != set():
            logging = logging_from_proto(req.queue)
        target = queue.http_target
        if (fields := _mask_fields(paths, "http_target")) != set():
            target = merge_target(target, req.queue, fields)
        queue.configure(rate, retry, logging)
        queue.http_target = target
        return queue.to_proto()

    async def delete_queue(self, req: tasks_v2.DeleteQueueRequest) -> None:
        queue = self._queue(req.name)
        del self.queues[str(queue.name)]
        await queue.close()
        self.ctx.log.event("queue deleted", queue=str(queue.name))

    async def purge_queue(self, req: tasks_v2.PurgeQueueRequest) -> tasks_v2.Queue:
        queue = self._queue(req.name)
        queue.purge()
        return queue.to_proto()

    async def pause_queue(self, req: tasks_v2.PauseQueueRequest) -> tasks_v2.Queue:
        queue = self._queue(req.name)
        queue.set_paused(True)
        return queue.to_proto()

    async def resume_queue(self, req: tasks_v2.ResumeQueueRequest) -> tasks_v2.Queue:
        queue = self._queue(req.name)
        queue.set_paused(False)
        return queue.to_proto()

    # ---- tasks -----------------------------------------------------------------------------

    def _task(self, name: str) -> tuple[Queue, TaskState]:
        parsed = names.parse_task(name)
        queue = self.queues.get(str(parsed.queue))
        if queue is None:
            raise not_found(f"queue {parsed.queue} does not exist")
        state = queue.get(parsed.task_id, time.time())
        if state is None:
            raise not_found(f"task {name} does not exist")
        return queue, state

    async def list_tasks(self, req: tasks_v2.ListTasksRequest) -> tasks_v2.ListTasksResponse:
        queue = self._queue(req.parent)
        live = queue.live_ids(time.time())
        page, token = _page(live, req.page_size, req.page_token, MAX_TASK_PAGE)
        view = tasks_v2.Task.View(req.response_view)
        tasks = [queue.tasks[k].to_proto(view) for k in page if k in queue.tasks]
        return tasks_v2.ListTasksResponse(tasks=tasks, next_page_token=token)

    async def get_task(self, req: tasks_v2.GetTaskRequest) -> tasks_v2.Task:
        _, state = self._task(req.name)
        return state.to_proto(tasks_v2.Task.View(req.response_view))

    async def create_task(self, req: tasks_v2.CreateTaskRequest) -> tasks_v2.Task:
        queue = self._queue(req.parent)
        now = time.time()
        if req.task.name:
            task_name = names.parse_task(req.task.name)
            if str(task_name.queue) != str(queue.name):
                raise invalid(f"task name {req.task.name} is not in queue {queue.name}")
            taken = queue.get(task_name.task_id, now) is not None
            if taken or queue.is_tombstoned(task_name.task_id, now):
                raise already_exists(
                    f"task {req.task.name} already exists or was recently completed or deleted"
                )
        else:
            task_name = names.TaskName(queue.name, names.new_task_id())
        state = new_task_state(req.task, task_name, now)
        queue.add(state)
        return state.to_proto(tasks_v2.Task.View(req.response_view))

    async def delete_task(self, req: tasks_v2.DeleteTaskRequest) -> None:
        queue, state = self._task(req.name)
        queue.remove(state.name.task_id)

    async def run_task(self, req: tasks_v2.RunTaskRequest) -> tasks_v2.Task:
        queue, state = self._task(req.name)
        queue.run_now(state)
        return state.to_proto(tasks_v2.Task.View(req.response_view))

    # ---- gRPC wiring -----------------------------------------------------------------------

    def generic_handler(self) -> grpc.GenericRpcHandler:
        def unary(
            fn: Callable[[Any], Awaitable[Any]], request_type: Any, response_type: Any
        ) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(
                _guard(fn),
                request_deserializer=request_type.deserialize,
                response_serializer=response_type.serialize,
            )

        def empty(fn: Callable[[Any], Awaitable[Any]], request_type: Any) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(
                _guard(fn),
                request_deserializer=request_type.deserialize,
                response_serializer=_serialize_empty,
            )

        t = tasks_v2
        handlers = {
            "ListQueues": unary(self.list_queues, t.ListQueuesRequest, t.ListQueuesResponse),
            "GetQueue": unary(self.get_queue, t.GetQueueRequest, t.Queue),
            "CreateQueue": unary(self.create_queue, t.CreateQueueRequest, t.Queue),
            "UpdateQueue": unary(self.update_queue, t.UpdateQueueRequest, t.Queue),
            "DeleteQueue": empty(self.delete_queue, t.DeleteQueueRequest),
            "PurgeQueue": unary(self.purge_queue, t.PurgeQueueRequest, t.Queue),
            "PauseQueue": unary(self.pause_queue, t.PauseQueueRequest, t.Queue),
            "ResumeQueue": unary(self.resume_queue, t.ResumeQueueRequest, t.Queue),
            "ListTasks": unary(self.list_tasks, t.ListTasksRequest, t.ListTasksResponse),
            "GetTask": unary(self.get_task, t.GetTaskRequest, t.Task),
            "CreateTask": unary(self.create_task, t.CreateTaskRequest, t.Task),
            "DeleteTask": empty(self.delete_task, t.DeleteTaskRequest),
            "RunTask": unary(self.run_task, t.RunTaskRequest, t.Task),
        }
        return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)


def _refuse_unsupported(queue: tasks_v2.Queue) -> None:
    for field, message in _UNSUPPORTED.items():
        if field in queue:
            raise unimplemented(message)


def _check_mask(paths: set[str]) -> None:
    for path in paths:
        top, _, sub = path.partition(".")
        if top in _UNSUPPORTED:
            raise unimplemented(_UNSUPPORTED[top])
        if top not in _UPDATABLE:
            raise invalid(f"update_mask path {path!r} names a field that cannot be updated")
        if sub and sub not in _UPDATABLE[top]:
            raise invalid(f"update_mask path {path!r} names no field of {top}")


def _mask_fields(paths: set[str], top: str) -> set[str] | None:
    """The sub-fields of `top` to take: None for all of them, an empty set for none."""
    if not paths or top in paths:
        return None
    return {p[len(top) + 1 :] for p in paths if p.startswith(top + ".")}


def _serialize_empty(_: object) -> bytes:
    """google.protobuf.Empty always serializes to zero bytes."""
    return b""


def _guard(
    fn: Callable[[Req], Awaitable[Resp]],
) -> Callable[[Req, grpc.aio.ServicerContext[Any, Any]], Awaitable[Resp]]:
    """Turn ApiError into its status and any other exception into INTERNAL."""

    async def handler(request: Req, context: grpc.aio.ServicerContext[Any, Any]) -> Resp:
        try:
            return await fn(request)
        except ApiError as exc:
            error = exc
        except Exception as exc:
            logger.exception("unexpected error in %s", getattr(fn, "__name__", "handler"))
            error = ApiError(
                grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"
            )
        await context.abort(error.code, error.message)
        raise AssertionError("unreachable")  # context.abort always raises

    return handler
