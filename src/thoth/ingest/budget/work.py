"""The work a parse child does for one file: parse, then chunk, within the format limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thoth.ingest.budget.limits import BudgetLimits
from thoth.ingest.chunking import Chunk, TokenCounter, chunk_document
from thoth.parsing import ParsedDocument, ParseError, parse_document

_SAMPLES = 16
_SAMPLE_CHARS = 2000
_PREFIX_TOKENS = 16  # title and heading, repeated in every chunk


@dataclass(frozen=True)
class FileRequest:
    path: str
    data: bytes
    source: str
    max_tokens: int
    overlap_tokens: int
    pack_below: int = 0


@dataclass(frozen=True)
class ParseOutput:
    """What the worker keeps of a file: no blocks, no model objects, only chunks and text."""

    title: str
    text: str
    metadata: dict[str, Any]
    chunks: list[Chunk]


def parse_and_chunk(
    request: FileRequest, counter: TokenCounter, limits: BudgetLimits
) -> ParseOutput:
    doc = parse_document(request.path, request.data)
    _check_chunk_estimate(doc, request, counter, limits)
    chunks = chunk_document(
        doc,
        request.source,
        counter,
        request.max_tokens,
        request.overlap_tokens,
        limits.max_chars,
        request.pack_below,
    )
    if len(chunks) > limits.max_chunks:
        raise ParseError(_too_many(f"{len(chunks):,}", limits))
    return ParseOutput(doc.title, doc.text, doc.metadata, chunks)


def _check_chunk_estimate(
    doc: ParsedDocument, request: FileRequest, counter: TokenCounter, limits: BudgetLimits
) -> None:
    """Fail before chunking a file that would make too many chunks: its token density is
    sampled in evenly spaced windows (chunking 9.4 MB of logs took ~45 s just to count)."""
    text = "\n\n".join(block.text for block in doc.blocks)
    if len(text) <= limits.max_chunks * _SAMPLE_CHARS // 8:
        return  # too short to make that many chunks: no need to sample
    step = max(len(text) // _SAMPLES, _SAMPLE_CHARS)
    windows = [text[start : start + _SAMPLE_CHARS] for start in range(0, len(text), step)]
    tokens = sum(counter.count_many(windows)) - counter.count("") * len(windows)
    per_char = tokens / max(sum(map(len, windows)), 1)
    per_chunk = max(request.max_tokens - request.overlap_tokens - _PREFIX_TOKENS, 1)
    estimate = max(len(text) * per_char / per_chunk, len(text) / limits.max_chars)
    if estimate > limits.max_chunks:
        raise ParseError(_too_many(f"about {estimate:,.0f}", limits))


def _too_many(count: str, limits: BudgetLimits) -> str:
    return f"would make {count} chunks, more than the {limits.max_chunks:,} allowed per file"
