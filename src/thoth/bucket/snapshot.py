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
`write_snapshot` writes it (from Arrow rows; `build_snapshot` from records, for tools and
tests); `open_snapshot` reads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NotRequired, TypedDict, Unpack

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from thoth.bucket import cells as partition
from thoth.bucket.keys import SNAPSHOT_MANIFEST
from thoth.bucket.lance import FTS, lancedb
from thoth.bucket.records import (
    CHUNK_COLUMNS,
    DOCUMENT_COLUMNS,
    VECTOR,
    ChunkRecord,
    DocumentRecord,
    chunks_from_arrow,
    chunks_to_arrow,
    conform_chunks,
    conform_documents,
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
_TEXT_ROWS = 16_384  # chunk rows whose search text is built at a time
_READ_ROWS = 4_096  # rows read from a table at a time when only some paths are wanted
_WRITE_ROWS = 16_384  # rows (chunks, documents) sorted and written at a time; chunks also get
# their search text and cells a slice at a time


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


class SnapshotFields(TypedDict):
    """What a snapshot is besides its rows (write_snapshot's other arguments)."""

    source: str
    version: str
    model: str
    dimensions: int
    variant: NotRequired[EmbeddingVariant]
    chunking: NotRequired[str]
    source_state: NotRequired[SourceState | None]


def build_snapshot(
    directory: Path,
    *,
    documents: Iterable[DocumentRecord],
    chunks: Iterable[ChunkRecord],
    **fields: Unpack[SnapshotFields],
) -> SnapshotManifest:
    """`write_snapshot` from records (tools and tests; the ingestion pipeline hands over
    Arrow tables, which hold a large source in a fraction of the memory)."""
    return write_snapshot(
        directory,
        documents=documents_to_arrow(list(documents)),
        chunks=chunk_table(list(chunks), fields["dimensions"]),
        **fields,
    )


def chunk_table(rows: Sequence[ChunkRecord], dimensions: int) -> pa.Table:
    """Chunk records as rows for `write_snapshot`; SnapshotError on a vector of the wrong
    size."""
    try:
        return chunks_to_arrow(rows, dimensions)
    except ValueError as exc:
        raise SnapshotError(str(exc)) from exc


def write_snapshot(
    directory: Path,
    *,
    source: str,
    version: str,
    documents: pa.Table,
    chunks: pa.Table,
    model: str,
    dimensions: int,
    variant: EmbeddingVariant = "fp32",
    chunking: str = "",
    source_state: SourceState | None = None,
) -> SnapshotManifest:
    """Write a complete snapshot into `directory` (which must not hold one already) from
    document and chunk rows (in the records' columns: `conform_documents`, `conform_chunks`)
    and return its manifest. Raises SnapshotError on duplicate chunk ids or paths, a column
    that does not fit (vectors of another size), or rows from another source."""
    directory = Path(directory)
    if (directory / SNAPSHOT_MANIFEST).exists() or (directory / LANCEDB_DIR).exists():
        raise SnapshotError(f"{directory} already holds a snapshot; snapshots are immutable")
    try:
        docs = conform_documents(documents)
        rows = conform_chunks(chunks, dimensions)
    except ValueError as exc:
        raise SnapshotError(f"rows do not fit the snapshot: {exc}") from exc
    doc_order, order = _order(docs, "path"), _order(rows, "path", "ordinal")
    _check(source, rows.select(["chunk_id", "source", "path"]).take(order), "chunk_id")
    _check(source, docs.select(["path", "source"]).take(doc_order), "path")
    directory.mkdir(parents=True, exist_ok=True)

    db = lancedb.connect(str(directory / LANCEDB_DIR))
    cells = partition.cell_count(rows.num_rows)
    written = _written_rows(rows, order, dimensions, cells)
    table = db.create_table(CHUNKS_TABLE, data=written, schema=written.schema)
    if rows.num_rows:
        # Lance-native BM25 index (create_fts_index is deprecated in 0.40).
        table.create_index(FTS_COLUMN, config=FTS_CONFIG)
    sorted_docs = _in_order(docs, doc_order, docs.schema)
    db.create_table(DOCUMENTS_TABLE, data=sorted_docs, schema=docs.schema)

    manifest = SnapshotManifest(
        source=source,
        version=version,
        model=model,
        variant=variant,
        chunking=chunking,
        dimensions=dimensions,
        documents=docs.num_rows,
        chunks=rows.num_rows,
        cells=cells,
        files=list(_list_files(directory)),
        source_state=source_state or SourceState(),
    )
    (directory / SNAPSHOT_MANIFEST).write_text(manifest.model_dump_json(indent=2))
    return manifest


def _order(table: pa.Table, *keys: str) -> pa.Array:
    return pc.sort_indices(table, sort_keys=[(key, "ascending") for key in keys])


def _written_rows(
    rows: pa.Table, order: pa.Array, dimensions: int, cells: int
) -> pa.RecordBatchReader:
    """The chunks table as written: `rows` in `order` with their search text and cell, made
    a slice at a time as LanceDB reads them (a whole sorted copy of a large source, its text
    again as search text and its vectors again for the cells would each cost hundreds of MB)."""
    positions = _positions(order)
    centres = None
    if cells:
        vectors = _Taker(rows.select([VECTOR]))
        centres = partition.centroids(
            lambda at: vector_matrix(vectors.take(positions[at]), dimensions),
            rows.num_rows,
            cells,
        )
    schema = rows.schema.append(pa.field(FTS_COLUMN, pa.string()))
    if centres is not None:
        schema = schema.append(pa.field(partition.CELL_COLUMN, pa.int32()))

    def derived(part: pa.Table) -> list[pa.ChunkedArray]:
        columns = [search_texts(part)]
        if centres is not None:
            assigned = partition.nearest(vector_matrix(part, dimensions), centres)
            columns.append(pa.chunked_array([assigned], pa.int32()))
        return columns

    return _in_order(rows, order, schema, derived)


def _in_order(
    rows: pa.Table,
    order: pa.Array,
    schema: pa.Schema,
    derived: Callable[[pa.Table], list[pa.ChunkedArray]] | None = None,
) -> pa.RecordBatchReader:
    """`rows` in `order`, _WRITE_ROWS at a time, each slice with the columns `derived` adds
    (as `schema` lists them after the rows' own), as a stream for LanceDB."""
    take, positions = _Taker(rows), _positions(order)

    def slices() -> Iterator[pa.RecordBatch]:
        for start in range(0, rows.num_rows, _WRITE_ROWS):
            part = take.take(positions[start : start + _WRITE_ROWS])
            extra = derived(part) if derived is not None else []
            yield from pa.Table.from_arrays([*part.columns, *extra], schema=schema).to_batches()

    return pa.RecordBatchReader.from_batches(schema, slices())


def _positions(order: pa.Array) -> npt.NDArray[np.int64]:
    positions: npt.NDArray[np.int64] = order.to_numpy().astype(np.int64)
    return positions


class _Taker:
    """Rows of a table by position, each run taken from the record batch that holds it:
    Arrow's take across a table of many batches first joins each whole column into one
    (measured: 0.35 s and ~160 MB for 16,384 rows of a 200,000-chunk source's text column,
    and as much for its vector column)."""

    def __init__(self, table: pa.Table) -> None:
        self._schema = table.schema
        self._batches = table.to_batches()
        sizes = [batch.num_rows for batch in self._batches]
        self._starts = np.cumsum([0, *sizes[:-1]], dtype=np.int64)

    def take(self, positions: npt.NDArray[np.int64]) -> pa.Table:
        which = np.searchsorted(self._starts, positions, side="right") - 1
        cuts = np.flatnonzero(np.diff(which)) + 1
        parts = []
        for run in np.split(np.arange(len(positions)), cuts):
            if len(run):
                batch = int(which[run[0]])
                local = positions[run] - self._starts[batch]
                parts.append(self._batches[batch].take(pa.array(local)))
        return pa.Table.from_batches(parts, schema=self._schema)


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


def _read_paths(table: Any, columns: Sequence[str], paths: set[str] | None) -> pa.Table:
    """`columns` of the rows whose path is in `paths`, read _READ_ROWS at a time so that
    only the rows kept are ever held together (one query for the whole table held ~1 GB
    more at its peak than the 0.5 GB it returned, at 200,000 chunks)."""
    if paths is None:
        return _read(table, list(columns))
    wanted = [name for name in columns if name in table.schema.names]
    rows = table.count_rows()
    if rows == 0 or not paths:
        return pa.schema([table.schema.field(name) for name in wanted]).empty_table()
    value_set = pa.array(sorted(paths), pa.string())
    kept, seen = [], 0
    for start in range(0, rows, _READ_ROWS):
        part = table.search().select(wanted).offset(start).limit(_READ_ROWS).to_arrow()
        seen += part.num_rows
        kept.append(part.filter(pc.is_in(part["path"], value_set=value_set)))
    if seen != rows:
        raise SnapshotError(f"read {seen} rows of a table of {rows}")
    return pa.concat_tables(kept)


def search_text(title: str, heading: str, text: str) -> str:
    """What full-text search matches for a chunk: a question often names the page or section
    ("parental leave policy") rather than words of the passage itself. Title and heading path
    are written twice, so BM25 weighs their words more than the body's (chosen on the dev
    split: bench/results/quality-fields-dev.md)."""
    return "\n".join(part for part in (title, title, heading, heading, text) if part)


def search_texts(rows: pa.Table) -> pa.ChunkedArray:
    """`search_text` of every chunk row, a slice of rows at a time (Python strings for all
    of a large source at once would double its text in memory)."""
    pieces = []
    for batch in rows.select(["title", "heading", "text"]).to_batches(_TEXT_ROWS):
        parts = batch.to_pydict()
        texts = map(search_text, parts["title"], parts["heading"], parts["text"])
        pieces.append(pa.array(list(texts), pa.string()))
    return pa.chunked_array(pieces, pa.string())


def _check(source: str, rows: pa.Table, key: str) -> None:
    """Raise SnapshotError at the first row, in row order, whose `key` (chunk_id or path)
    came before or whose source is another."""
    if _unique(rows[key]) and _all_of(rows, source):
        return
    chunks = key == "chunk_id"
    noun, label = ("chunk", "chunk id") if chunks else ("document", "document path")
    seen: set[str] = set()
    for row in rows.to_pylist():
        value = row[key]
        if value in seen:
            where = f" (path {row['path']!r})" if chunks else ""
            raise SnapshotError(f"duplicate {label} {value!r}{where}")
        seen.add(value)
        if row["source"] != source:
            raise SnapshotError(f"{noun} {value!r} belongs to source {row['source']!r}")


def _unique(column: pa.ChunkedArray) -> bool:
    return bool(pc.count_distinct(column).as_py() == len(column))


def _all_of(rows: pa.Table, source: str) -> bool:
    return not pc.any(pc.not_equal(rows["source"], source)).as_py()


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
        """Chunk rows with their vectors; only those of `paths` when given."""
        yield from chunks_from_arrow(self.chunks_of(paths), self.manifest.dimensions)

    def chunks_of(self, paths: set[str] | None = None) -> pa.Table:
        """The chunk rows of `paths` (all when None) in the records' columns
        (`conform_chunks`): what the ingestion pipeline carries over from the previous
        snapshot for unchanged files."""
        table = _read_paths(self.chunks_table(), CHUNK_COLUMNS, paths)
        return conform_chunks(table, self.manifest.dimensions)

    def documents_of(self, paths: set[str] | None = None) -> pa.Table:
        """The document rows of `paths` (all when None), as `chunks_of`."""
        table = _read_paths(self._db.open_table(DOCUMENTS_TABLE), DOCUMENT_COLUMNS, paths)
        return conform_documents(table)

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
