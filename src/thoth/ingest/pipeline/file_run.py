"""A run of a batch's files, each read from the mirror, parsed and chunked in a parse child
under its budget (thoth.ingest.budget), and embedded. The embedding goes in groups of
EMBED_GROUP_PASSES forward passes (512 chunks by default) as the files are parsed, not in one
call at the end, so that the time a batch's deadline looks at covers the embedding too (one
call over 1,536 chunks against calls of 256: 33.8 s against 34.5 s, measured here while
another job ran; 32.8 s against 36.7 s in a first round). A file, once started, is always
finished."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from thoth.bucket.keys import source_key
from thoth.bucket.records import ChunkRecord, DocumentRecord, Vector
from thoth.bucket.store import NotFound
from thoth.ingest.budget import FileRequest
from thoth.ingest.chunking import Chunk
from thoth.ingest.jobs import FileEntry, FileResult
from thoth.ingest.pipeline.context import Context
from thoth.ingest.sources.models import Citations
from thoth.parsing import ParseError, UnsupportedFileType, is_supported

log = logging.getLogger(__name__)

# Chunks an encode call takes at least (but the last): this many forward passes.
EMBED_GROUP_PASSES = 8


@dataclass
class ParsedFile:
    entry: FileEntry
    document: DocumentRecord
    chunks: list[Chunk]
    records: list[ChunkRecord] = field(default_factory=list)  # the chunks, embedded


@dataclass
class FileRun:
    parsed: list[ParsedFile] = field(default_factory=list)
    results: list[FileResult] = field(default_factory=list)
    embed_seconds: float = 0.0

    def __add__(self, other: FileRun) -> FileRun:
        return FileRun(
            self.parsed + other.parsed,
            self.results + other.results,
            self.embed_seconds + other.embed_seconds,
        )

    def records(self) -> list[ChunkRecord]:
        return [record for parsed in self.parsed for record in parsed.records]


def run_files(
    ctx: Context,
    source: str,
    entries: list[FileEntry],
    citations: Citations,
    deadline: float | None,
) -> FileRun:
    """Each entry parsed and embedded, in order; with a `deadline` (time.perf_counter()),
    none is started after it (the first always is)."""
    run, waiting = FileRun(), []
    group = EMBED_GROUP_PASSES * ctx.settings.embedding_batch_size
    for entry in entries:
        if deadline is not None and run.results and time.perf_counter() > deadline:
            break
        outcome = _parse_one(ctx, source, entry, citations)
        if isinstance(outcome, FileResult):
            run.results.append(outcome)
            continue
        run.parsed.append(outcome)
        run.results.append(
            FileResult(path=entry.path, outcome="indexed", chunks=len(outcome.chunks))
        )
        waiting.append(outcome)
        if sum(len(p.chunks) for p in waiting) >= group:
            run.embed_seconds += _embed(ctx, source, waiting, citations)
            waiting = []
    run.embed_seconds += _embed(ctx, source, waiting, citations)
    return run


def _parse_one(
    ctx: Context, source: str, entry: FileEntry, citations: Citations
) -> ParsedFile | FileResult:
    if not is_supported(entry.path):
        return FileResult(path=entry.path, outcome="skipped")
    # Outside the try: a storage or transport error fails the whole batch, so Cloud Tasks
    # retries it, instead of costing this file its place in the index.
    try:
        data, _ = ctx.store.read(source_key(source, entry.path))
    except NotFound:
        return FileResult(path=entry.path, outcome="failed", error="deleted during ingestion")
    try:
        settings = ctx.settings
        request = FileRequest(
            entry.path,
            data,
            source,
            ctx.max_tokens,
            settings.chunk_overlap_tokens,
            settings.chunk_pack_below,
        )
        output = ctx.parse_budget.run(request)
    except UnsupportedFileType:
        return FileResult(path=entry.path, outcome="skipped")
    except ParseError as exc:
        return FileResult(path=entry.path, outcome="failed", error=str(exc))
    except Exception as exc:  # a parser bug must cost one file, not the whole batch
        log.exception("unexpected error parsing %s", entry.path)
        error = f"unexpected {type(exc).__name__}: {exc}"[:500]
        return FileResult(path=entry.path, outcome="failed", error=error)
    document = DocumentRecord(
        source=source,
        path=entry.path,
        title=output.title,
        url=citations.url(entry.path),
        file_hash=entry.file_hash,
        text=output.text,
        chunk_count=len(output.chunks),
        metadata=output.metadata,
    )
    return ParsedFile(entry, document, output.chunks)


def _embed(ctx: Context, source: str, parsed: list[ParsedFile], citations: Citations) -> float:
    """Embed the chunks of `parsed` into their records (one encode call); the seconds it took."""
    pairs = [(p, c) for p in parsed for c in p.chunks]
    if not pairs:
        return 0.0
    started = time.perf_counter()
    vectors = ctx.embedder.encode([c.embed_text for _, c in pairs])
    for i, (parsed_file, chunk) in enumerate(pairs):
        parsed_file.records.append(_record(source, parsed_file, chunk, vectors[i], citations))
    return time.perf_counter() - started


def _record(
    source: str, parsed_file: ParsedFile, chunk: Chunk, vector: Vector, citations: Citations
) -> ChunkRecord:
    return ChunkRecord(
        chunk_id=chunk.chunk_id,
        source=source,
        path=chunk.path,
        title=chunk.title,
        heading=chunk.heading,
        url=citations.url(chunk.path, chunk.anchor),
        text=chunk.text,
        ordinal=chunk.ordinal,
        file_hash=parsed_file.entry.file_hash,
        vector=vector,
        anchor=chunk.anchor,
    )
