"""ListQueues `filter`: the one form the emulator understands is a comparison on `state`."""

from __future__ import annotations

import re
from collections.abc import Callable

from google.cloud import tasks_v2

from .errors import invalid, unimplemented

_STATE_FILTER = re.compile(r"^\s*state\s*(:|=|!=)\s*([A-Za-z_]+)\s*$")

_STATES = ("STATE_UNSPECIFIED", "RUNNING", "PAUSED", "DISABLED")

QueuePredicate = Callable[[tasks_v2.Queue.State], bool]


def parse_queue_filter(text: str) -> QueuePredicate:
    """A predicate on a queue's state; `state: PAUSED`, `state = RUNNING`, `state != PAUSED`."""
    if not text.strip():
        return lambda _: True
    match = _STATE_FILTER.match(text)
    if match is None:
        raise unimplemented(
            f"filter {text!r} is not supported by this emulator; only `state: STATE`,"
            " `state = STATE` and `state != STATE` are"
        )
    operator, value = match.group(1), match.group(2).upper()
    if value not in _STATES:
        raise invalid(f"unknown queue state {value!r} in filter")
    wanted = tasks_v2.Queue.State(getattr(tasks_v2.Queue.State, value))
    if operator == "!=":
        return lambda state: state != wanted
    return lambda state: state == wanted
