"""The parent side: a few long-lived parse children, each used by one file at a time.

Children are fresh interpreters (`python -m thoth.ingest.budget`), not multiprocessing's
spawn or forkserver: those re-run the host's `__main__` (uvicorn, pytest, a script) in every
child. A child that dies, or overruns the deadline (then it is killed), is replaced on next
use (~1 s of imports); the file gets the reason.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType

import thoth
from thoth.ingest.budget.limits import MEMORY_EXIT, BudgetExceeded, BudgetLimits
from thoth.ingest.budget.work import FileRequest, ParseOutput
from thoth.parsing import ParseError, UnsupportedFileType

log = logging.getLogger(__name__)

# Deaths that mean "out of memory": the kernel's OOM killer, and Rust's abort on a failed
# allocation (the tokenizer), besides the child's own MemoryError exit.
_MEMORY_SIGNALS = frozenset({-signal.SIGKILL, -signal.SIGABRT})


class _Child:
    def __init__(self, tokenizer_json: str, limits: BudgetLimits) -> None:
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "thoth.ingest.budget", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            env=_child_environment(),
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.conn.send((tokenizer_json, limits))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int | None:
        """Kill the child (if still running) and return its exit code."""
        self.conn.close()
        if self.alive():
            self.process.kill()
        try:
            return self.process.wait(10)
        except subprocess.TimeoutExpired:
            return None


def _child_environment() -> dict[str, str]:
    """The parent's environment, with this very thoth package first on the child's path."""
    package_root = str(Path(thoth.__file__).resolve().parents[1])
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "TOKENIZERS_PARALLELISM": "false"}


class ParseBudget:
    """Runs parse_and_chunk for one file at a time per child, `limits.processes` children.

    Thread-safe: a caller waits for an idle child before its deadline starts.
    """

    def __init__(self, limits: BudgetLimits, tokenizer_json: str) -> None:
        self.limits = limits
        self._tokenizer_json = tokenizer_json
        self._idle: queue.SimpleQueue[_Child | None] = queue.SimpleQueue()
        for _ in range(limits.processes):
            self._idle.put(None)  # started on first use

    def run(self, request: FileRequest) -> ParseOutput:
        """Raises UnsupportedFileType, ParseError, or BudgetExceeded (a ParseError)."""
        worker = self._idle.get()
        try:
            if worker is None or not worker.alive():
                worker = _Child(self._tokenizer_json, self.limits)
            reply = self._ask(worker, request)
        except BaseException:
            if worker is not None:
                worker.stop()
            self._idle.put(None)
            raise
        retire = reply[-1]
        if retire:
            worker.stop()
        self._idle.put(None if retire else worker)
        return _result(request.path, reply)

    def _ask(self, worker: _Child, request: FileRequest) -> tuple[object, ...]:
        try:
            worker.conn.send(request)
            if not worker.conn.poll(self.limits.seconds):
                raise self.limits.out_of_time()
            reply: tuple[object, ...] = worker.conn.recv()
            return reply
        except (EOFError, OSError):
            raise self._death(worker) from None

    def _death(self, worker: _Child) -> BudgetExceeded:
        code = worker.stop()
        if code == MEMORY_EXIT or code in _MEMORY_SIGNALS:
            return self.limits.out_of_memory()
        if code is not None and code < 0:
            return BudgetExceeded(f"the parser crashed ({signal.Signals(-code).name})")
        return BudgetExceeded(f"the parser crashed (exit code {code})")

    def close(self) -> None:
        for _ in range(self.limits.processes):
            worker = self._idle.get()
            if worker is not None:
                worker.stop()

    def __enter__(self) -> ParseBudget:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _result(path: str, reply: tuple[object, ...]) -> ParseOutput:
    if reply[0] == "ok":
        output = reply[1]
        assert isinstance(output, ParseOutput)
        return output
    kind, message = reply[1], str(reply[2])
    if kind == "unsupported":
        raise UnsupportedFileType(message)
    if kind == "unexpected":
        log.error("unexpected error parsing %s: %s", path, message)
        raise ParseError(message.partition("\n")[0])
    raise ParseError(message)
