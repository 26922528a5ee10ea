"""The CLI's check that the storage emulator listens before it asks the client anything."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from thoth.bucket.reach import storage_unreachable
from thoth.config import Settings


def settings(emulator: str | None) -> Settings:
    return Settings(bucket="thoth-test", storage_emulator_host=emulator)


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_listening_emulator_passes_with_or_without_a_scheme(listening: int) -> None:
    assert storage_unreachable(settings(f"http://127.0.0.1:{listening}")) is None
    assert storage_unreachable(settings(f"127.0.0.1:{listening}/")) is None
    assert storage_unreachable(settings(None)) is None  # Google's endpoint: the client's job


def test_a_closed_port_or_a_bad_value_is_one_sentence() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, never listening: refused
        refused = storage_unreachable(settings(f"http://127.0.0.1:{closed}"))
    assert refused is not None and "make up" in refused and f"127.0.0.1:{closed}" in refused
    bad = storage_unreachable(settings("http://localhost:99999"))
    assert bad is not None and "out of range" in bad
