"""The on-disk snapshot: one immutable LanceDB database plus a manifest (design.md §2).

A snapshot directory holds

    manifest.json      what the snapshot is (source, version, model, counts) and every file
                       under lancedb/ with its size and sha256, so a downloader can tell a
                       complete copy from a half-uploaded one
    lancedb/           a LanceDB database with two tables:
        chunks         ChunkRecord rows (thoth.bucket.records), vectors as fixed-size lists
                       of float32, plus `search_text` (title, heading path and text, as
                       search_text() lays them out) with a native full-text index on it;
                       snapshots written before it have the index on `text`; and, from
                       thoth.bucket.cells.MIN_ROWS chunks on, `cell`: each vector's cell of
                       the coarse partition dense search probes (manifest `cells`)
        documents      DocumentRecord rows, metadata as JSON text

Rows are sorted by (path, ordinal) so the same input always gives the same tables, and so the
chunks of any path prefix form one contiguous run of rows (search relies on this).
`build_snapshot` writes it; `open_snapshot` reads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field

from thoth.bucket import cells as partition
from thoth.bucket.keys import SNAPSHOT_MANIFEST
from thoth.bucket.lance import FTS, lancedb
from thoth.bucket.records import (
    ChunkRecord,
    DocumentRecord,
    chunks_from_arrow,
    chunks_to_arrow,
    document_from_row,
    documents_to_arrow,
    vector_matrix,
)
from thoth.config import EmbeddingVariant
from thoth.errors import UnavailableError

FORMAT_VERSION = 1
LANCEDB_DIR = "lancedb"
CHUNKS_TABLE = "chunks"
FTS_COLUMN = "search_text"
# Chosen on the quality bench's dev split (README, Performance and quality).
FTS_CONFIG = FTS(stem=True, remove_stop_words=True)
DOCUMENTS_TABLE = "documents"


class SnapshotError(UnavailableError):
    """A snapshot cannot be built, or what is on disk is not a complete snapshot."""


class SnapshotFile(BaseModel):
    """One file of the snapshot, relative to the snapshot directory (posix separators)."""

    path: str
    size: int = Field(ge=0)
    sha256: str


class SourceState(BaseModel):
    """Which state of the source a snapshot reflects (what the MCP server reports as
    freshness). Empty for sources without commits (folders, uploads)."""

    commit: str | None = Field(None, description="The source's commit (GitLab), if any.")
    seen_at: datetime | None = Field(
        None, description="When that commit was the newest known: pushes after it are news."
    )


class SnapshotManifest(BaseModel):
    """What `manifest.json` says."""

    format: int = FORMAT_VERSION
    source: str
    version: str
    model: str
    # The encoder variant (THOTH_EMBEDDING_VARIANT) the vectors came from; snapshots written
    # before it was recorded were all fp32.
    variant: EmbeddingVariant = "fp32"
    # How the chunks were cut (settings and code version, ingest.pipeline.base_snapshot's
    # chunking_signature); "" before it was recorded.
    chunking: str = ""
    dimensions: int = Field(gt=0)
    documents: int = Field(ge=0)
    chunks: int = Field(ge=0)
    # Cells of the vectors' coarse partition (the chunks' `cell` column); 0: none, as in
    # every snapshot written before it existed, and search scans every vector.
    cells: int = Field(default=0, ge=0)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    files: list[SnapshotFile] = Field(default_factory=list)
    source_state: SourceState = Field(default_factory=lambda: SourceState())


# --- writing ----------------------------------------------------------------------------


def build_snapshot(
    directory: Path,
    *,
    source: str,
    version: str,
    documents: Iterable[DocumentRecord],
    chunks: Iterable[ChunkRecord],
    model: str,
    dimensions: int,
    variant: EmbeddingVariant = "fp32",
    chunking: str = "",
    source_state: SourceState | None = None,
) -> SnapshotManifest:
    """Write a complete snapshot into `directory` (which must not hold one already) and
    return its manifest. Raises SnapshotError on duplicate chunk ids or paths, a vector of
    the wrong size, or rows from another source."""
    directory = Path(directory)
    if (directory / SNAPSHOT_MANIFEST).exists() or (directory / LANCEDB_DIR).exists():
        raise SnapshotError(f"{directory} already holds a snapshot; snapshots are immutable")
    directory.mkdir(parents=True, exist_ok=True)

    docs = sorted(documents, key=lambda d: d.path)
    rows = sorted(chunks, key=lambda c: (c.path, c.ordinal))
    _check(source, dimensions, docs, rows)

    db = lancedb.connect(str(directory / LANCEDB_DIR))
    data = chunks_to_arrow(rows, dimensions)
    searched = pa.array([search_text(c.title, c.heading, c.text) for c in rows], pa.string())
    data = data.append_column(FTS_COLUMN, searched)
    cells = partition.cell_count(len(rows))
    if cells:
        assigned = partition.partition(vector_matrix(data, dimensions), cells)
        data = data.append_column(partition.CELL_COLUMN, pa.array(assigned, pa.int32()))
    db.create_table(CHUNKS_TABLE, data=data)
    table = db.open_table(CHUNKS_TABLE)
    if rows:
        # Lance-native BM25 index (create_fts_index is deprecated in 0.40).
        table.create_index(FTS_COLUMN, config=FTS_CONFIG)
    db.create_table(DOCUMENTS_TABLE, data=documents_to_arrow(docs))

    manifest = SnapshotManifest(
        source=source,
        version=version,
        model=model,
        variant=variant,
        chunking=chunking,
        dimensions=dimensions,
        documents=len(docs),
        chunks=len(rows),
        cells=cells,
        files=list(_list_files(directory)),
        source_state=source_state or SourceState(),
    )
    (directory / SNAPSHOT_MANIFEST).write_text(manifest.model_dump_json(indent=2))
    return manifest


def _read(table: Any, columns: list[str] | None) -> pa.Table:
    if columns is None:
        whole: pa.Table = table.to_arrow()
        return whole
    wanted = [name for name in columns if name in table.schema.names]
    rows = table.count_rows()
    if rows == 0:
        empty: pa.Table = table.to_arrow().select(wanted)
        return empty
    read: pa.Table = table.search().select(wanted).limit(rows).to_arrow()
    return read


def search_text(title: str, heading: str, text: str) -> str:
    """What full-text search matches for a chunk: a question often names the page or section
    ("parental leave policy") rather than words of the passage itself. Title and heading path
    are written twice, so BM25 weighs their words more than the body's (chosen on the dev
    split: bench/results/quality-fields-dev.md)."""
    return "\n".join(part for part in (title, title, heading, heading, text) if part)


def _check(
    source: str, dimensions: int, docs: list[DocumentRecord], rows: list[ChunkRecord]
) -> None:
    seen: set[str] = set()
    for chunk in rows:
        if chunk.chunk_id in seen:
            raise SnapshotError(f"duplicate chunk id {chunk.chunk_id!r} (path {chunk.path!r})")
        seen.add(chunk.chunk_id)
        if chunk.source != source:
            raise SnapshotError(f"chunk {chunk.chunk_id!r} belongs to source {chunk.source!r}")
        if np.shape(chunk.vector) != (dimensions,):
            raise SnapshotError(
                f"chunk {chunk.chunk_id!r} has a vector of shape {np.shape(chunk.vector)}, "
                f"expected ({dimensions},)"
            )
    paths: set[str] = set()
    for doc in docs:
        if doc.path in paths:
            raise SnapshotError(f"duplicate document path {doc.path!r}")
        paths.add(doc.path)
        if doc.source != source:
            raise SnapshotError(f"document {doc.path!r} belongs to source {doc.source!r}")


def _list_files(directory: Path) -> Iterator[SnapshotFile]:
    for path in sorted((directory / LANCEDB_DIR).rglob("*")):
        if path.is_file():
            yield SnapshotFile(
                path=path.relative_to(directory).as_posix(),
                size=path.stat().st_size,
                sha256=sha256_file(path),
            )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- reading ----------------------------------------------------------------------------


def read_manifest(directory: Path) -> SnapshotManifest:
    path = Path(directory) / SNAPSHOT_MANIFEST
    try:
        return SnapshotManifest.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise SnapshotError(f"{directory} has no {SNAPSHOT_MANIFEST}") from exc
    except ValueError as exc:
        raise SnapshotError(f"{path} is not a valid manifest: {exc}") from exc


class Snapshot:
    """A snapshot on local disk, opened read-only."""

    def __init__(self, directory: Path, manifest: SnapshotManifest) -> None:
        self.directory = Path(directory)
        self.manifest = manifest
        self._db = lancedb.connect(str(self.directory / LANCEDB_DIR))

    def chunks_table(self) -> Any:
        """The LanceDB `chunks` table (for full-text search)."""
        return self._db.open_table(CHUNKS_TABLE)

    def chunks_arrow(self, columns: list[str] | None = None) -> pa.Table:
        """All chunk rows as one Arrow table, in (path, ordinal) order; only `columns` are
        read when given (at 200,000 chunks, leaving out the full-text column saves ~0.4 s
        and ~150 MB, measured)."""
        return _read(self.chunks_table(), columns)

    def documents_arrow(self, columns: list[str] | None = None) -> pa.Table:
        """All document rows (only `columns` when given) as one Arrow table."""
        return _read(self._db.open_table(DOCUMENTS_TABLE), columns)

    def document_rows(self, path: str) -> list[dict[str, Any]]:
        """The document rows at exactly `path` (a scan: for a tool called now and then)."""
        literal = path.replace("'", "''")
        table = self._db.open_table(DOCUMENTS_TABLE)
        rows: list[dict[str, Any]] = table.search().where(f"path = '{literal}'").to_list()
        return rows

    def documents(self) -> Iterator[DocumentRecord]:
        for row in self.documents_arrow().to_pylist():
            yield document_from_row(row)

    def chunks(self, paths: set[str] | None = None) -> Iterator[ChunkRecord]:
        """Chunk rows with their vectors; only those of `paths` when given (the ingestion
        pipeline carries unchanged files over from the previous snapshot with this)."""
        table = self.chunks_arrow()
        if paths is not None:
            mask = pa.compute.is_in(table["path"], value_set=pa.array(sorted(paths), pa.string()))
            table = table.filter(mask)
        yield from chunks_from_arrow(table, self.manifest.dimensions)

    def verify(self, *, hashes: bool = True) -> None:
        """Check every file in the manifest is present with its size and sha256 (sizes only
        with `hashes=False`), and that no stray file sits beside them. Raises SnapshotError
        naming the first problem."""
        listed = {f.path for f in self.manifest.files}
        for entry in self.manifest.files:
            path = self.directory / entry.path
            if not path.is_file():
                raise SnapshotError(f"snapshot file missing: {entry.path}")
            size = path.stat().st_size
            if size != entry.size:
                raise SnapshotError(f"{entry.path}: {size} bytes, manifest says {entry.size}")
            if hashes and sha256_file(path) != entry.sha256:
                raise SnapshotError(f"{entry.path}: sha256 differs from the manifest")
        for path in (self.directory / LANCEDB_DIR).rglob("*"):
            if path.is_file() and path.relative_to(self.directory).as_posix() not in listed:
                raise SnapshotError(f"file not in manifest: {path.relative_to(self.directory)}")


def open_snapshot(directory: Path) -> Snapshot:
    """Open a complete snapshot directory (manifest.json + lancedb/)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    if manifest.format != FORMAT_VERSION:
        raise SnapshotError(f"snapshot format {manifest.format} is not {FORMAT_VERSION}")
    return Snapshot(directory, manifest)
