"""The snapshot format: what build_snapshot writes, open_snapshot reads back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.snapshots import SAMPLE_DOCS, HashingEncoder, make_snapshot, records
from thoth.bucket.records import CHUNK_COLUMNS
from thoth.bucket.snapshot import SnapshotError, build_snapshot, open_snapshot, read_manifest


def test_round_trip(tmp_path: Path) -> None:
    manifest = make_snapshot(tmp_path / "s", SAMPLE_DOCS, source="hb", version="v1")
    assert (manifest.source, manifest.version, manifest.documents) == ("hb", "v1", 5)
    assert manifest.chunks == 10 and manifest.dimensions == 384
    assert read_manifest(tmp_path / "s") == manifest
    snapshot = open_snapshot(tmp_path / "s")
    snapshot.verify()
    docs = list(snapshot.documents())
    assert [d.path for d in docs] == sorted(SAMPLE_DOCS)
    assert docs[0].metadata == {"test": True}
    chunks = list(snapshot.chunks())
    assert [(c.path, c.ordinal) for c in chunks] == sorted((c.path, c.ordinal) for c in chunks)
    _, originals = records("hb", SAMPLE_DOCS, HashingEncoder())
    by_id = {c.chunk_id: c for c in originals}
    for chunk in chunks:
        assert chunk.vector.dtype == np.float32
        np.testing.assert_array_equal(chunk.vector, by_id[chunk.chunk_id].vector)
        assert chunk.text == by_id[chunk.chunk_id].text


def test_manifest_lists_every_file(tmp_path: Path) -> None:
    manifest = make_snapshot(tmp_path / "s", SAMPLE_DOCS)
    on_disk = sorted(
        p.relative_to(tmp_path / "s").as_posix()
        for p in (tmp_path / "s/lancedb").rglob("*")
        if p.is_file()
    )
    assert [f.path for f in manifest.files] == on_disk
    assert json.loads((tmp_path / "s/manifest.json").read_text())["files"]


def test_chunks_for_some_paths(tmp_path: Path) -> None:
    make_snapshot(tmp_path / "s", SAMPLE_DOCS)
    chunks = list(open_snapshot(tmp_path / "s").chunks({"people/vacation.md", "nope.md"}))
    assert {c.path for c in chunks} == {"people/vacation.md"} and len(chunks) == 2
    assert list(open_snapshot(tmp_path / "s").chunks(set())) == []


def test_same_input_same_rows(tmp_path: Path) -> None:
    make_snapshot(tmp_path / "a", SAMPLE_DOCS)
    make_snapshot(tmp_path / "b", dict(reversed(list(SAMPLE_DOCS.items()))))
    a = [c.chunk_id for c in open_snapshot(tmp_path / "a").chunks()]
    b = [c.chunk_id for c in open_snapshot(tmp_path / "b").chunks()]
    assert a == b


def test_duplicate_chunk_ids_rejected(tmp_path: Path) -> None:
    docs, chunks = records("handbook", SAMPLE_DOCS, HashingEncoder())
    with pytest.raises(SnapshotError, match="duplicate chunk id"):
        build_snapshot(
            tmp_path / "s",
            source="handbook",
            version="v1",
            documents=docs,
            chunks=[*chunks, chunks[0]],
            model="m",
            dimensions=384,
        )


def test_wrong_dimensions_rejected(tmp_path: Path) -> None:
    docs, chunks = records("handbook", SAMPLE_DOCS, HashingEncoder())
    with pytest.raises(SnapshotError, match="shape"):
        build_snapshot(
            tmp_path / "s",
            source="handbook",
            version="v1",
            documents=docs,
            chunks=chunks,
            model="m",
            dimensions=128,
        )


def test_snapshots_are_immutable(tmp_path: Path) -> None:
    make_snapshot(tmp_path / "s", SAMPLE_DOCS)
    with pytest.raises(SnapshotError, match="immutable"):
        make_snapshot(tmp_path / "s", SAMPLE_DOCS)


def test_empty_snapshot(tmp_path: Path) -> None:
    manifest = make_snapshot(tmp_path / "s", {})
    assert (manifest.documents, manifest.chunks) == (0, 0)
    assert list(open_snapshot(tmp_path / "s").chunks()) == []


def test_verify_catches_missing_changed_and_stray_files(tmp_path: Path) -> None:
    manifest = make_snapshot(tmp_path / "s", SAMPLE_DOCS)
    target = tmp_path / "s" / manifest.files[-1].path
    data = target.read_bytes()
    target.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(SnapshotError, match="sha256"):
        open_snapshot(tmp_path / "s").verify()
    target.unlink()
    with pytest.raises(SnapshotError, match="missing"):
        open_snapshot(tmp_path / "s").verify()
    target.write_bytes(data)
    (tmp_path / "s/lancedb/extra.bin").write_bytes(b"x")
    with pytest.raises(SnapshotError, match="not in manifest"):
        open_snapshot(tmp_path / "s").verify()


def test_no_manifest_is_not_a_snapshot(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no manifest"):
        open_snapshot(tmp_path)


def test_a_sliced_vector_column_gives_only_its_own_rows() -> None:
    import pyarrow as pa

    from thoth.bucket.records import vectors_of

    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    column = pa.FixedSizeListArray.from_arrays(pa.array(rows.ravel()), 3)
    assert np.array_equal(vectors_of(column.slice(1, 2), 3), rows[1:3])
    assert vectors_of(column, 3).flags.c_contiguous


def test_rows_from_arrow_in_any_order_and_slice_size_give_the_same_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write_snapshot sorts, adds search text and cells a slice at a time: the tables must not
    depend on the input's order or the slice size (cells forced on at this size)."""
    import pyarrow as pa

    from thoth.bucket import cells as partition
    from thoth.bucket import snapshot as module
    from thoth.bucket.records import chunks_to_arrow, documents_to_arrow, vector_matrix

    monkeypatch.setattr(partition, "MIN_ROWS", 4)
    docs, chunks = records("hb", SAMPLE_DOCS, HashingEncoder())
    make_snapshot(tmp_path / "whole", SAMPLE_DOCS, source="hb")
    reversed_rows = chunks_to_arrow(chunks[::-1], 384)
    monkeypatch.setattr(module, "_WRITE_ROWS", 3)
    manifest = module.write_snapshot(
        tmp_path / "sliced",
        source="hb",
        version="v1",
        documents=documents_to_arrow(docs[::-1]),
        chunks=reversed_rows,
        model="m",
        dimensions=384,
    )
    assert manifest.cells == partition.cell_count(len(chunks)) > 0
    whole = open_snapshot(tmp_path / "whole")
    sliced = open_snapshot(tmp_path / "sliced")
    assert sliced.chunks_arrow().equals(whole.chunks_arrow())
    assert sliced.documents_arrow().equals(whole.documents_arrow())
    written = sliced.chunks_arrow()
    expected = partition.partition(vector_matrix(written, 384), manifest.cells)
    assert written["cell"].to_pylist() == expected.tolist()
    assert written["search_text"][0].as_py().startswith(written["title"][0].as_py())
    assert isinstance(written, pa.Table)


def test_rows_of_some_paths_read_in_slices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from thoth.bucket import snapshot as module

    make_snapshot(tmp_path / "s", SAMPLE_DOCS)
    monkeypatch.setattr(module, "_READ_ROWS", 3)
    snapshot = open_snapshot(tmp_path / "s")
    keep = {"people/vacation.md", "engineering/oncall.md", "nope.md"}
    chunks = snapshot.chunks_of(keep)
    assert set(chunks["path"].to_pylist()) == keep - {"nope.md"}
    assert chunks.column_names == [*CHUNK_COLUMNS]  # no search_text, no cell
    assert snapshot.documents_of(keep)["path"].to_pylist() == sorted(keep - {"nope.md"})
    assert snapshot.chunks_of(set()).num_rows == 0
    assert snapshot.chunks_of(None).num_rows == snapshot.manifest.chunks


def test_rows_of_an_older_snapshot_get_the_columns_it_lacks(tmp_path: Path) -> None:
    """Snapshots written before `anchor` existed are carried over with anchor ''."""
    from thoth.bucket.records import chunks_to_arrow, conform_chunks

    _, chunks = records("hb", SAMPLE_DOCS, HashingEncoder())
    old = chunks_to_arrow(chunks, 384).drop_columns(["anchor"])
    conformed = conform_chunks(old, 384)
    assert conformed["anchor"].to_pylist() == [""] * len(chunks)
    with pytest.raises(ValueError, match="vector"):
        conform_chunks(old, 128)


def test_rows_that_do_not_fit_are_rejected(tmp_path: Path) -> None:
    from thoth.bucket.records import chunks_to_arrow, documents_to_arrow
    from thoth.bucket.snapshot import write_snapshot

    docs, chunks = records("hb", SAMPLE_DOCS, HashingEncoder())
    fields = {"source": "hb", "version": "v1", "model": "m", "dimensions": 128}
    with pytest.raises(SnapshotError, match=r"do not fit.*vector"):
        write_snapshot(
            tmp_path / "a",
            documents=documents_to_arrow(docs),
            chunks=chunks_to_arrow(chunks, 384),
            **fields,  # type: ignore[arg-type]
        )
    other, _ = records("other", SAMPLE_DOCS, HashingEncoder())
    with pytest.raises(SnapshotError, match="belongs to source 'other'"):
        write_snapshot(
            tmp_path / "b",
            documents=documents_to_arrow(other),
            chunks=chunks_to_arrow(chunks, 384),
            **{**fields, "dimensions": 384},  # type: ignore[arg-type]
        )
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("duplicate document", "duplicate document path 'engineering/deploys.md'"),
        ("foreign chunk", "chunk '.*' belongs to source 'x'"),
        ("foreign document", "document 'engineering/deploys.md' belongs to source 'x'"),
    ],
)
def test_bad_rows_are_named(tmp_path: Path, change: str, message: str) -> None:
    import dataclasses

    docs, chunks = records("hb", SAMPLE_DOCS, HashingEncoder())
    if change == "duplicate document":
        docs = [*docs, docs[0]]
    elif change == "foreign chunk":
        chunks = [dataclasses.replace(chunks[1], source="x"), *chunks[2:]]
    else:
        docs = [dataclasses.replace(docs[0], source="x"), *docs[1:]]
    with pytest.raises(SnapshotError, match=message):
        build_snapshot(
            tmp_path / "s", source="hb", version="v1", documents=docs, chunks=chunks,
            model="m", dimensions=384,
        )  # fmt: skip
    assert not (tmp_path / "s").exists()
