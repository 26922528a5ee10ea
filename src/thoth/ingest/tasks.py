"""A thin adapter over Cloud Tasks: enqueue named HTTP tasks that call the ingestion worker.

The same code talks to Cloud Tasks and to the project's emulator; only the channel differs
(`CLOUD_TASKS_EMULATOR_HOST`). Task names make enqueueing idempotent: a retried enqueue of
the same name is refused by Cloud Tasks (ALREADY_EXISTS) and we treat that as success.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Protocol

import grpc
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport
from google.protobuf import field_mask_pb2
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from thoth.config import Settings

DISPATCH_DEADLINE = timedelta(minutes=15)


class Enqueuer(Protocol):
    def enqueue(
        self, name: str, path: str, payload: dict[str, Any], timeout: float | None = None
    ) -> bool:
        """Enqueue a POST of payload to the worker's path. False when the name was taken.
        `timeout` bounds the call in seconds (None: the client's default, 20 s)."""
        ...


def make_client(settings: Settings) -> tasks_v2.CloudTasksClient:
    if settings.cloud_tasks_emulator_host:
        channel = grpc.insecure_channel(settings.cloud_tasks_emulator_host)
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    return tasks_v2.CloudTasksClient()


class TaskQueue:
    """Named HTTP tasks on one queue, authenticated with an OIDC token (design.md §7)."""

    def __init__(self, settings: Settings, client: tasks_v2.CloudTasksClient | None = None):
        self.settings = settings
        self.client = client or make_client(settings)

    @property
    def audience(self) -> str:
        return self.settings.worker_audience

    def task_name(self, name: str) -> str:
        return f"{self.settings.queue_path}/tasks/{name}"

    def enqueue(
        self, name: str, path: str, payload: dict[str, Any], timeout: float | None = None
    ) -> bool:
        task = tasks_v2.Task(
            name=self.task_name(name),
            dispatch_deadline=DISPATCH_DEADLINE,
            http_request=tasks_v2.HttpRequest(
                http_method=tasks_v2.HttpMethod.POST,
                url=self.settings.worker_url.rstrip("/") + path,
                headers={"Content-Type": "application/json"},
                body=json.dumps(payload).encode(),
                oidc_token=tasks_v2.OidcToken(
                    service_account_email=self.settings.tasks_service_account,
                    audience=self.audience,
                ),
            ),
        )
        try:
            if timeout is None:
                self.client.create_task(parent=self.settings.queue_path, task=task)
            else:
                self.client.create_task(parent=self.settings.queue_path, task=task, timeout=timeout)
        except gexc.AlreadyExists:
            return False
        return True

    def ensure_queue(self) -> None:
        """Create or update the queue with limits the worker can take (local stacks and
        tests; Terraform owns the cloud queue). Retries while the emulator starts."""
        queue = tasks_v2.Queue(
            name=self.settings.queue_path,
            rate_limits=tasks_v2.RateLimits(
                max_concurrent_dispatches=self.settings.queue_max_concurrent,
                max_dispatches_per_second=50,
            ),
            retry_config=tasks_v2.RetryConfig(
                max_attempts=self.settings.queue_max_attempts,
                min_backoff=timedelta(seconds=0.5),
                max_backoff=timedelta(seconds=30),
                max_doublings=5,
            ),
        )
        mask = field_mask_pb2.FieldMask(paths=["rate_limits", "retry_config"])
        for attempt in Retrying(
            stop=stop_after_delay(60),
            wait=wait_exponential(multiplier=0.2, max=5),
            retry=retry_if_exception_type(gexc.ServiceUnavailable),
            reraise=True,
        ):
            with attempt:
                self.client.update_queue(queue=queue, update_mask=mask)
