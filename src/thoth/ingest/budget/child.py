"""A parse child (`python -m thoth.ingest.budget FD`): it reads its tokenizer and limits from
the socket FD, sets its own limits, then parses one file per request until the parent closes
the socket.

Replies are ("ok", ParseOutput, retire) or ("error", kind, message, retire). A child whose
peak memory passed half its ceiling asks to retire, so the heap a big file left behind is
not carried into the next one. MemoryError ends the child with MEMORY_EXIT.
"""

from __future__ import annotations

import resource
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from thoth.ingest.budget.counter import TokenizerCounter
from thoth.ingest.budget.limits import MEMORY_EXIT, BudgetLimits
from thoth.ingest.budget.work import FileRequest, parse_and_chunk
from thoth.parsing import ParseError, UnsupportedFileType

_KIB = 1024


def main() -> None:
    conn = Connection(int(sys.argv[1]))
    tokenizer_json, limits = conn.recv()
    serve(conn, tokenizer_json, limits)


def serve(conn: Connection, tokenizer_json: str, limits: BudgetLimits) -> None:
    _limit_resources(limits.memory_bytes)
    try:
        counter = TokenizerCounter(tokenizer_json)
        del tokenizer_json
        while True:
            try:
                request: FileRequest = conn.recv()
            except EOFError:  # the parent closed the pipe, or died
                return
            conn.send(_answer(request, counter, limits))
    except MemoryError:
        raise SystemExit(MEMORY_EXIT) from None


def _limit_resources(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort must not write a core file


def _answer(request: FileRequest, counter: TokenizerCounter, limits: BudgetLimits) -> Any:
    try:
        output = parse_and_chunk(request, counter, limits)
    except MemoryError:
        raise
    except UnsupportedFileType as error:
        return ("error", "unsupported", str(error), _retire(limits))
    except ParseError as error:
        return ("error", "parse", str(error), _retire(limits))
    except Exception as error:  # a parser bug costs one file; the parent logs the trace
        message = f"unexpected {type(error).__name__}: {error}"[:500]
        return ("error", "unexpected", f"{message}\n{traceback.format_exc()}", _retire(limits))
    return ("ok", output, _retire(limits))


def _retire(limits: BudgetLimits) -> bool:
    return _peak_rss() > limits.memory_bytes // 2


def _peak_rss() -> int:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that across exec,
    so it starts at the parent's RSS (the worker's, with the model loaded)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * _KIB
    return 0
