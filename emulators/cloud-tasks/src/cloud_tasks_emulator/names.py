"""Validation and parsing of Cloud Tasks resource names."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from .errors import invalid

_PROJECT = r"[A-Za-z0-9:.\-]{1,100}"
_LOCATION = r"[A-Za-z0-9\-]{1,63}"
_QUEUE_ID = r"[A-Za-z0-9\-]{1,100}"
_TASK_ID = r"[A-Za-z0-9_\-]{1,500}"

_LOCATION_RE = re.compile(rf"^projects/({_PROJECT})/locations/({_LOCATION})$")
_QUEUE_RE = re.compile(rf"^projects/({_PROJECT})/locations/({_LOCATION})/queues/({_QUEUE_ID})$")
_TASK_RE = re.compile(
    rf"^projects/({_PROJECT})/locations/({_LOCATION})/queues/({_QUEUE_ID})/tasks/({_TASK_ID})$"
)


@dataclass(frozen=True)
class QueueName:
    project: str
    location: str
    queue_id: str

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    def __str__(self) -> str:
        return f"{self.parent}/queues/{self.queue_id}"


@dataclass(frozen=True)
class TaskName:
    queue: QueueName
    task_id: str

    def __str__(self) -> str:
        return f"{self.queue}/tasks/{self.task_id}"


def parse_location(name: str) -> str:
    """Validate `projects/P/locations/L` and return it unchanged."""
    if not _LOCATION_RE.match(name or ""):
        raise invalid(f"invalid location name {name!r}: want projects/PROJECT/locations/LOCATION")
    return name


def parse_queue(name: str) -> QueueName:
    match = _QUEUE_RE.match(name or "")
    if not match:
        raise invalid(
            f"invalid queue name {name!r}: want projects/PROJECT/locations/LOCATION/queues/QUEUE_ID"
            " where QUEUE_ID is 1-100 of [A-Za-z0-9-]"
        )
    return QueueName(match.group(1), match.group(2), match.group(3))


def parse_task(name: str) -> TaskName:
    match = _TASK_RE.match(name or "")
    if not match:
        raise invalid(
            f"invalid task name {name!r}: want .../queues/QUEUE_ID/tasks/TASK_ID"
            " where TASK_ID is 1-500 of [A-Za-z0-9_-]"
        )
    return TaskName(QueueName(match.group(1), match.group(2), match.group(3)), match.group(4))


def new_task_id() -> str:
    """A server-generated task id: a long random decimal number, as Cloud Tasks makes."""
    return str(secrets.randbelow(10**19 - 10**18) + 10**18)
