"""The rows a snapshot holds, and their Arrow form: defined once, here.

The ingestion side writes ChunkRecord and DocumentRecord; the snapshot stores them as the
Arrow tables `chunks` and `documents`; the serving side reads the columns back. The Arrow
schemas and every conversion are derived from the dataclass fields below, so a new field is
one edit: add it to the record (with a type from `_ARROW_TYPES`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, get_type_hints

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Vector = npt.NDArray[np.float32]
VECTOR = "vector"
METADATA = "metadata"


@dataclass(frozen=True)
class ChunkRecord:
    """One embedded passage. `heading` is the heading path joined with ' > '."""

    chunk_id: str
    source: str
    path: str
    title: str
    heading: str
    url: str
    text: str
    ordinal: int
    file_hash: str
    vector: Vector
    anchor: str = ""  # the heading's anchor in the rendered page; "" for none


@dataclass(frozen=True)
class DocumentRecord:
    """One indexed file: its whole extracted text and metadata, for get_document."""

    source: str
    path: str
    title: str
    url: str
    file_hash: str
    text: str
    chunk_count: int
    metadata: dict[str, Any] = field(default_factory=dict)


_ARROW_TYPES: dict[object, pa.DataType] = {str: pa.string(), int: pa.int32()}


def _arrow_type(name: str, hint: object, dimensions: int) -> pa.DataType:
    if name == VECTOR:
        return pa.list_(pa.float32(), dimensions)
    if name == METADATA:
        return pa.string()  # JSON text: metadata keys differ from document to document
    return _ARROW_TYPES[hint]


def _schema(record: type[Any], dimensions: int = 0) -> pa.Schema:
    hints = get_type_hints(record)
    return pa.schema(
        [
            pa.field(f.name, _arrow_type(f.name, hints[f.name], dimensions), nullable=False)
            for f in dataclasses.fields(record)
        ]
    )


def chunks_schema(dimensions: int) -> pa.Schema:
    return _schema(ChunkRecord, dimensions)


DOCUMENTS_SCHEMA = _schema(DocumentRecord)
CHUNK_COLUMNS = tuple(f.name for f in dataclasses.fields(ChunkRecord))
DOCUMENT_COLUMNS = tuple(f.name for f in dataclasses.fields(DocumentRecord))


# --- records -> Arrow ---------------------------------------------------------------------
def chunks_to_arrow(rows: Sequence[ChunkRecord], dimensions: int) -> pa.Table:
    """Raises ValueError naming the first chunk whose vector is not of `dimensions`."""
    schema = chunks_schema(dimensions)
    for chunk in rows:
        if np.shape(chunk.vector) != (dimensions,):
            raise ValueError(
                f"chunk {chunk.chunk_id!r} has a vector of shape {np.shape(chunk.vector)}, "
                f"expected ({dimensions},)"
            )
    if rows:
        matrix = np.stack([np.asarray(c.vector, dtype=np.float32) for c in rows])
    else:
        matrix = np.zeros((0, dimensions), dtype=np.float32)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), dimensions)
    arrays = [
        vectors if f.name == VECTOR else pa.array([getattr(c, f.name) for c in rows], type=f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def documents_to_arrow(docs: Sequence[DocumentRecord]) -> pa.Table:
    data = {name: [getattr(d, name) for d in docs] for name in DOCUMENT_COLUMNS}
    data[METADATA] = [json.dumps(d.metadata, sort_keys=True, default=str) for d in docs]
    return pa.Table.from_pydict(data, schema=DOCUMENTS_SCHEMA)


def conform_chunks(table: pa.Table, dimensions: int) -> pa.Table:
    """Chunk rows read from a snapshot in the columns and types of `chunks_schema`: extra
    columns (`search_text`, `cell`) left out, a column older snapshots lack filled with its
    field's default. Raises ValueError when a column cannot be cast (vectors of another size)."""
    return _conform(table, ChunkRecord, chunks_schema(dimensions))


def conform_documents(table: pa.Table) -> pa.Table:
    """Document rows in the columns and types of DOCUMENTS_SCHEMA (see conform_chunks)."""
    return _conform(table, DocumentRecord, DOCUMENTS_SCHEMA)


def _conform(table: pa.Table, record: type[Any], schema: pa.Schema) -> pa.Table:
    defaults = {f.name: f.default for f in dataclasses.fields(record)}
    columns = []
    for target in schema:
        if target.name in table.column_names:
            try:
                columns.append(table[target.name].cast(target.type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise ValueError(f"column {target.name!r}: {exc}") from exc
        elif defaults[target.name] is not dataclasses.MISSING:
            columns.append(pa.array([defaults[target.name]] * table.num_rows, target.type))
        else:
            raise ValueError(f"column {target.name!r} is missing")
    return pa.Table.from_arrays(columns, schema=schema)


# --- Arrow -> records ---------------------------------------------------------------------
def document_from_row(row: dict[str, Any]) -> DocumentRecord:
    """A `documents` table row (as from `to_pylist`) as a DocumentRecord."""
    values = {name: row[name] for name in DOCUMENT_COLUMNS}
    values[METADATA] = json.loads(row[METADATA] or "{}")
    return DocumentRecord(**values)


def chunks_from_arrow(table: pa.Table, dimensions: int) -> Iterator[ChunkRecord]:
    if table.num_rows == 0:
        return
    matrix = vector_matrix(table, dimensions)
    columns = table.drop_columns([VECTOR]).to_pydict()
    for i in range(table.num_rows):
        # `anchor` came with issue 14: snapshots built before it lack the column.
        values = {name: columns[name][i] for name in CHUNK_COLUMNS if name in columns}
        yield ChunkRecord(**values, vector=matrix[i].copy())


def vector_matrix(table: pa.Table, dimensions: int) -> npt.NDArray[np.float32]:
    """The `vector` column as a contiguous (rows, dimensions) float32 matrix."""
    return vectors_of(table[VECTOR].combine_chunks(), dimensions)


def vectors_of(vectors: pa.Array, dimensions: int) -> npt.NDArray[np.float32]:
    """A fixed-size-list array of vectors as a (rows, dimensions) float32 matrix (no copy
    when Arrow's buffer is already float32; a sliced array gives only its own rows)."""
    values = vectors.flatten().to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(values.reshape(-1, dimensions), dtype=np.float32)


# --- plain fields (batch outputs keep vectors apart) --------------------------------------
def chunk_fields(chunk: ChunkRecord) -> dict[str, Any]:
    return {name: getattr(chunk, name) for name in CHUNK_COLUMNS if name != VECTOR}


def document_fields(doc: DocumentRecord) -> dict[str, Any]:
    return {name: getattr(doc, name) for name in DOCUMENT_COLUMNS}
