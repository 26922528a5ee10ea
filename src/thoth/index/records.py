"""The rows a snapshot holds, shared by the ingestion side (writer) and the MCP side (reader)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


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
