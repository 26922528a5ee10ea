"""A batch's output: its documents and embedded chunks, one object overwritten whole
(design.md §3)."""

from __future__ import annotations

import io
import json

import numpy as np

from thoth.bucket.records import ChunkRecord, DocumentRecord, chunk_fields, document_fields


def encode_output(documents: list[DocumentRecord], chunks: list[ChunkRecord]) -> bytes:
    dims = chunks[0].vector.shape[0] if chunks else 0
    vectors = (
        np.stack([c.vector for c in chunks]).astype(np.float32)
        if chunks
        else np.zeros((0, dims), dtype=np.float32)
    )
    meta = {
        "documents": [document_fields(d) for d in documents],
        "chunks": [chunk_fields(c) for c in chunks],
    }
    buffer = io.BytesIO()
    np.savez(buffer, vectors=vectors, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    return buffer.getvalue()


def decode_output(data: bytes) -> tuple[list[DocumentRecord], list[ChunkRecord]]:
    with np.load(io.BytesIO(data)) as archive:
        vectors = archive["vectors"]
        meta = json.loads(archive["meta"].tobytes())
    documents = [DocumentRecord(**d) for d in meta["documents"]]
    chunks = [ChunkRecord(**fields, vector=vectors[i]) for i, fields in enumerate(meta["chunks"])]
    return documents, chunks
