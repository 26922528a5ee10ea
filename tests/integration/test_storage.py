"""The storage adapter against the real fake-gcs-server; design.md §1 rests on these
preconditions."""

from __future__ import annotations

import pytest

from thoth.bucket.store import BlobStore, NotFound, PreconditionFailed


def test_create_only_refuses_second_writer(store: BlobStore) -> None:
    assert store.create_only("markers/a", b"1") is True
    assert store.create_only("markers/a", b"2") is False
    assert store.read("markers/a")[0] == b"1"


def test_compare_and_swap_detects_lost_race(store: BlobStore) -> None:
    generation = store.write_json("pointer.json", {"version": "v1"})
    store.write_json("pointer.json", {"version": "v2"}, if_generation=generation)
    with pytest.raises(PreconditionFailed):
        store.write_json("pointer.json", {"version": "v3"}, if_generation=generation)
    assert store.read_json("pointer.json")[0] == {"version": "v2"}


def test_missing_object_is_not_found(store: BlobStore) -> None:
    with pytest.raises(NotFound):
        store.read("nope")
    assert store.stat("nope") is None
    assert store.delete("nope") is False


def test_list_and_prefixes(store: BlobStore) -> None:
    for key in ["s/a/1.md", "s/a/2.md", "s/b/3.md", "t/4.md"]:
        store.write(key, b"x")
    assert sorted(o.key for o in store.list_objects("s/")) == ["s/a/1.md", "s/a/2.md", "s/b/3.md"]
    assert store.list_prefixes("s/") == ["s/a/", "s/b/"]
    assert store.delete_prefix("s/a/") == 2


def test_large_object_uses_resumable_upload(store: BlobStore) -> None:
    data = bytes(range(256)) * (40 * 1024 * 4)  # 40 MiB: over the client's resumable threshold
    store.write("big.bin", data)
    assert store.read("big.bin")[0] == data
