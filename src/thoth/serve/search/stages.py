"""Where a search spends its CPU: per-stage thread CPU time, collected per request.

The MCP request middleware opens a collection (`collecting`) around each request; the engine
and the tool wrap their steps in `stage(name)`. Stages are measured in thread CPU time, not
wall time, so two requests sharing the machine do not charge each other, and a stage that
runs on another thread (full text beside the query embedding) is counted where it runs. The
middleware logs the stages and returns them in a `Server-Timing` header (W3C Server Timing),
which bench/query.py reads. With no collection open, `stage` costs one context lookup.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

Stages = dict[str, float]  # stage name -> CPU milliseconds

_current: contextvars.ContextVar[Stages | None] = contextvars.ContextVar(
    "thoth_search_stages", default=None
)
_adding = threading.Lock()  # threads of one request (the dense blocks) add to one stage

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def collecting() -> Iterator[Stages]:
    """Collect the stages of everything run inside (threads started with `in_context` too)."""
    stages: Stages = {}
    token = _current.set(stages)
    try:
        yield stages
    finally:
        _current.reset(token)


@contextmanager
def stage(name: str, clock: Callable[[], float] = time.thread_time) -> Iterator[None]:
    """Add this block's CPU time to stage `name` of the open collection, if any. The clock is
    the thread's CPU time; `time.process_time` counts every thread instead (native threads
    such as LanceDB's too, but also whatever else the process runs meanwhile)."""
    stages = _current.get()
    if stages is None:
        yield
        return
    started = clock()
    try:
        yield
    finally:
        spent = (clock() - started) * 1000
        with _adding:
            stages[name] = stages.get(name, 0.0) + spent


def in_context(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` bound to the caller's context, for a thread pool (which would not carry it)."""
    context = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.run(fn, *args, **kwargs)

    return run


def server_timing(stages: Stages) -> str:
    """The `Server-Timing` header value: `name;dur=ms` per stage, in the order recorded."""
    return ", ".join(f"{name};dur={ms:.3f}" for name, ms in stages.items())


def parse_server_timing(value: str) -> Stages:
    """The stages of a `Server-Timing` header value (entries without a duration are skipped)."""
    stages: Stages = {}
    for entry in value.split(","):
        name, _, params = entry.strip().partition(";")
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "dur" and name:
                try:
                    stages[name] = float(number)
                except ValueError:
                    continue
    return stages
