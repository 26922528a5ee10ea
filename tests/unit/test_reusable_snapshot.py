"""A snapshot's unchanged files are carried over only when its chunks were cut and embedded
as the settings say now; otherwise the next job re-embeds every file."""

from __future__ import annotations

from thoth.bucket.snapshot import SnapshotManifest
from thoth.config import Settings
from thoth.ingest.chunking import CHUNKS_VERSION
from thoth.ingest.pipeline.base_snapshot import chunking_signature, reusable

SETTINGS = Settings(bucket="thoth-test")


def manifest(**changes: object) -> SnapshotManifest:
    fields: dict[str, object] = {
        "source": "handbook",
        "version": "v1",
        "model": SETTINGS.embedding_model,
        "variant": SETTINGS.embedding_variant,
        "chunking": chunking_signature(SETTINGS),
        "dimensions": 384,
        "documents": 1,
        "chunks": 1,
    }
    return SnapshotManifest.model_validate(fields | changes)


def test_a_snapshot_made_as_configured_now_is_reused() -> None:
    assert reusable(manifest(), SETTINGS)


def test_other_model_variant_or_chunking_is_not_reused() -> None:
    assert not reusable(manifest(model="other-model"), SETTINGS)
    assert not reusable(manifest(variant="int8"), SETTINGS)
    assert not reusable(manifest(chunking=""), SETTINGS)  # written before it was recorded


def test_chunks_cut_by_other_parsing_or_chunking_code_are_not_reused() -> None:
    # Same settings, older code: recorded before the code version was, or by an older worker.
    assert not reusable(manifest(chunking=SETTINGS.chunking_signature()), SETTINGS)
    older = SETTINGS.chunking_signature() + f" code={CHUNKS_VERSION - 1}"
    assert not reusable(manifest(chunking=older), SETTINGS)


def test_every_chunking_setting_is_in_the_signature() -> None:
    changes = {
        "chunk_max_tokens": 128,
        "chunk_overlap_tokens": 8,
        "chunk_pack_below": 100,
        "chunk_max_chars": 2000,
    }
    for name, value in changes.items():
        changed = SETTINGS.model_copy(update={name: value})
        assert not reusable(manifest(), changed), name
