"""One source's snapshot, loaded for serving: the vectors for dense ranking (thoth.serve.search
.dense), the chunk metadata as columns, the documents by path, and the snapshot's LanceDB table
for BM25 full text.

A SourceIndex is built once, off the serving path, and never changes afterwards: readers may
hold one for as long as a request lasts while the loader swaps in a newer one.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from thoth.bucket.cells import CELL_COLUMN
from thoth.bucket.records import VECTOR, DocumentRecord, document_from_row
from thoth.bucket.snapshot import Snapshot, SnapshotError, SnapshotManifest
from thoth.serve.search.dense import DenseIndex, Matrix

log = logging.getLogger(__name__)


# The chunk columns serving reads besides the vectors: not the full-text column, which
# LanceDB's index serves.
SERVED_COLUMNS = ("chunk_id", "path", "ordinal", "title", "heading", "url", "text")


class StringColumn(Sequence[str]):
    """An Arrow string column read as a sequence of str, one value at a time when asked for:
    at 200,000 chunks, the text, title, heading and URL columns held as Python strings took
    ~300 MB more than in Arrow (measured)."""

    def __init__(self, column: pa.ChunkedArray) -> None:
        # Kept in LanceDB's batches: combining them copied ~0.7 s worth at 200,000 chunks,
        # and a look-up costs the same either way (~2 us, measured).
        self._array = column

    def __len__(self) -> int:
        return len(self._array)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            values: list[str] = self._array[index].to_pylist()
            return values
        if not -len(self._array) <= index < len(self._array):
            raise IndexError(index)
        value: str = self._array[index].as_py()
        return value


@dataclass(frozen=True)
class Candidate:
    """A chunk row of one source with the score one ranker gave it."""

    source: str
    row: int
    score: float


def _sorted_by_path(table: Any) -> bool:
    """Whether the rows are already in (path, ordinal) order (Arrow compares neighbours:
    ~0.02 s at 200,000 rows against ~0.19 s through Python lists, measured)."""
    if table.num_rows < 2:
        return True
    paths = table["path"].combine_chunks()
    ordinals = table["ordinal"].combine_chunks()
    before, after = paths[:-1], paths[1:]
    in_order = pc.or_(
        pc.less(before, after),
        pc.and_(pc.equal(before, after), pc.less_equal(ordinals[:-1], ordinals[1:])),
    )
    return bool(pc.all(in_order).as_py())


def _dense_index(manifest: SnapshotManifest, vectors: pa.Table) -> DenseIndex:
    """The vectors (with their cells, if the manifest counts any) for dense ranking; a
    SnapshotError if the `cell` column is missing or does not fit the manifest."""
    cells = None
    if manifest.cells:
        column = vectors[CELL_COLUMN] if CELL_COLUMN in vectors.column_names else None
        if column is None or not pa.types.is_integer(column.type) or column.null_count:
            raise SnapshotError(
                f"{manifest.source} {manifest.version}: the manifest counts {manifest.cells} "
                f"cells but the `{CELL_COLUMN}` column is missing, not integers, or has nulls"
            )
        cells = column.to_numpy()
    try:
        return DenseIndex.from_arrow(vectors[VECTOR], manifest.dimensions, cells, manifest.cells)
    except ValueError as exc:
        raise SnapshotError(f"{manifest.source} {manifest.version}: {exc}") from exc


def _shared_strings(column: pa.ChunkedArray) -> list[str]:
    """The column as a list of str in which equal values are one object: a path repeats for
    every chunk of its document (~17 MB of copies at 200,000 chunks, measured)."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    values: list[str] = encoded.dictionary.to_pylist()
    return [values[i] for i in encoded.indices.to_numpy(zero_copy_only=False)]


def _first_rows(paths: Sequence[str], ordinals: npt.NDArray[np.int64]) -> dict[str, int] | None:
    """Each path's first row, when every document's rows carry ordinals 0, 1, 2, ... in row
    order (what write_snapshot writes), so that a chunk's row is its path's first row plus its
    ordinal; None otherwise."""
    first: dict[str, int] = {}
    for row, path in enumerate(paths):
        first.setdefault(path, row)
    starts = np.fromiter((first[p] for p in paths), dtype=np.int64, count=len(paths))
    expected = np.arange(len(paths), dtype=np.int64) - starts
    return first if np.array_equal(ordinals, expected) else None


class SourceIndex:
    """The searchable state of one source at one version."""

    def __init__(self, snapshot: Snapshot, *, indexed_at: datetime | None = None) -> None:
        self.snapshot = snapshot
        self.manifest: SnapshotManifest = snapshot.manifest
        self.source = self.manifest.source
        self.version = self.manifest.version
        self.indexed_at = indexed_at or self.manifest.created_at
        self.commit = self.manifest.source_state.commit
        self.commit_seen_at = self.manifest.source_state.seen_at
        # The vectors are read apart from the other columns: the Arrow batches LanceDB hands
        # over free their memory only when no column of theirs is referenced, and the string
        # columns stay referenced (300 MB of vectors kept twice at 200,000 chunks, measured).
        # The two reads run side by side: 1.3 s instead of 2.0-2.3 s at 200,000 chunks.
        vector_columns = [VECTOR, CELL_COLUMN] if self.manifest.cells else [VECTOR]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="thoth-load") as pool:
            reading = pool.submit(snapshot.chunks_arrow, vector_columns)
            table = snapshot.chunks_arrow(list(SERVED_COLUMNS))
            vectors = reading.result()
        if not _sorted_by_path(table):
            # write_snapshot writes rows in (path, ordinal) order, so this is a safety net:
            # sorting 50k rows with their vectors costs ~1.4 s of cold start (measured).
            del vectors
            table = snapshot.chunks_arrow([*SERVED_COLUMNS, *vector_columns])
            table = vectors = table.sort_by([("path", "ascending"), ("ordinal", "ascending")])
        if vectors.num_rows != table.num_rows:
            raise SnapshotError(f"{self.source}: the chunk table changed while it was read")
        self.dense_index = _dense_index(self.manifest, vectors)
        del vectors
        # Byte order of UTF-8 equals code point order, so Python's bisect agrees with it.
        self.chunk_ids = StringColumn(table["chunk_id"])
        self.paths: list[str] = _shared_strings(table["path"])
        self.titles = StringColumn(table["title"])
        self.headings = StringColumn(table["heading"])
        self.urls = StringColumn(table["url"])
        self.texts = StringColumn(table["text"])
        # A full-text hit names its chunk by path and ordinal: its row is found without a
        # dict of every chunk id (~34 MB at 200,000 chunks, measured), unless the ordinals
        # do not count the rows of each document.
        ordinals = table["ordinal"].to_numpy().astype(np.int64)
        self._first_row = _first_rows(self.paths, ordinals)
        self._row_of_id: dict[str, int] = (
            {} if self._first_row is not None else {c: i for i, c in enumerate(self.chunk_ids)}
        )
        # Only document paths are read up front; a document is read when asked for. Reading
        # every document's text cost ~0.6 s of cold start at 200,000 chunks (measured) for a
        # tool called now and then.
        paths = snapshot.documents_arrow(["path"])["path"].to_pylist()
        self.document_paths: list[str] = sorted(paths)
        self._fts: Any = snapshot.chunks_table() if self.paths else None

    @property
    def dimensions(self) -> int:
        return self.manifest.dimensions

    def __len__(self) -> int:
        return len(self.paths)

    # --- filters ----------------------------------------------------------------------
    def prefix_rows(self, prefix: str | None) -> tuple[int, int]:
        """The contiguous row range [lo, hi) of chunks whose path starts with `prefix`."""
        if not prefix:
            return 0, len(self.paths)
        lo = bisect.bisect_left(self.paths, prefix)
        hi = bisect.bisect_left(self.paths, prefix + "\U0010ffff", lo=lo)
        return lo, hi

    def document(self, path: str) -> DocumentRecord | None:
        """The document at exactly `path`, or None."""
        i = bisect.bisect_left(self.document_paths, path)
        if i == len(self.document_paths) or self.document_paths[i] != path:
            return None
        rows = self.snapshot.document_rows(path)
        return document_from_row(rows[0]) if rows else None

    def title_of(self, path: str) -> str:
        """The title of the document at `path`, from its first chunk ("" without chunks)."""
        row = bisect.bisect_left(self.paths, path)
        return self.titles[row] if row < len(self.paths) and self.paths[row] == path else ""

    def has_prefix(self, prefix: str | None) -> bool:
        if not prefix:
            return bool(self.document_paths)
        i = bisect.bisect_left(self.document_paths, prefix)
        return i < len(self.document_paths) and self.document_paths[i].startswith(prefix)

    # --- rankers --------------------------------------------------------------------
    def dense(
        self, query: Matrix, depth: int, prefix: str | None, *, exact: bool = False
    ) -> list[Candidate]:
        """Best-first chunks by cosine similarity (vectors are L2-normalised), among the
        rows under `prefix` only: the filter is applied before ranking. With cells, only
        the nearest cells are scanned unless `exact`."""
        lo, hi = self.prefix_rows(prefix)
        rows, scores = self.dense_index.search(query, depth, lo, hi, exact=exact)
        return [
            Candidate(self.source, int(row), float(score))
            for row, score in zip(rows, scores, strict=True)
        ]

    def cosine(self, rows: list[int], query: Matrix) -> list[float]:
        """The exact cosine similarity of each chunk row to `query`."""
        scores = self.dense_index.score_rows(np.asarray(rows, dtype=np.int64), query)
        return [float(s) for s in scores]

    def fulltext(self, query: str, depth: int, prefix: str | None) -> list[Candidate]:
        """Best-first chunks by BM25 (LanceDB native FTS), prefiltered to `prefix`."""
        if self._fts is None:
            return []
        # LanceDB reads a query in double quotes as a phrase, which needs word positions the
        # index does not keep (it would fail): quotes are dropped, the words still count
        search = self._fts.search(query.replace('"', " "), query_type="fts")
        if prefix:
            literal = prefix.replace("'", "''")
            search = search.where(f"starts_with(path, '{literal}')", prefilter=True)
        # chunk ids are read only where rows are not found by path and ordinal: a string
        # column fewer: LanceDB CPU per search at 50,000 chunks 8.9-9.5 -> 6.8-7.0 ms
        # (docs/performance.md)
        columns = ["path", "ordinal", "_score"]
        if self._first_row is None:
            columns.insert(0, "chunk_id")
        try:
            table = search.select(columns).limit(depth).to_arrow()
        except Exception:  # a query the FTS parser rejects still gets dense results
            log.warning("full-text search failed for one query", exc_info=True)
            return []
        paths, ordinals = table["path"].to_pylist(), table["ordinal"].to_pylist()
        ids = table["chunk_id"].to_pylist() if "chunk_id" in columns else [""] * len(paths)
        out = []
        for chunk_id, path, ordinal, score in zip(
            ids, paths, ordinals, table["_score"].to_pylist(), strict=True
        ):
            row = self._row(chunk_id, path, ordinal)
            if row is not None:
                out.append(Candidate(self.source, row, float(score)))
        return out

    def _row(self, chunk_id: str, path: str, ordinal: int) -> int | None:
        if self._first_row is None:
            return self._row_of_id.get(chunk_id)
        start = self._first_row.get(path)
        if start is None:
            return None
        row = start + ordinal
        return row if row < len(self.paths) and self.paths[row] == path else None
