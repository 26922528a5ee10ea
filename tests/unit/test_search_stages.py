"""Per-stage CPU accounting of a search (thoth.serve.search.stages)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from thoth.serve.search.stages import (
    collecting,
    in_context,
    parse_server_timing,
    server_timing,
    stage,
)


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_stage_counts_cpu_not_sleep() -> None:
    with collecting() as stages:
        with stage("busy"):
            _spin(0.02)
        with stage("idle"):
            time.sleep(0.05)
        with stage("busy"):
            _spin(0.01)
    assert stages["busy"] >= 29
    assert stages["idle"] < 10


def test_stage_outside_a_collection_records_nothing() -> None:
    with stage("x"):
        pass
    with collecting() as stages:
        pass
    assert stages == {}


def test_other_threads_record_only_when_given_the_context() -> None:
    def work() -> None:
        with stage("pool"):
            _spin(0.005)

    with collecting() as stages, ThreadPoolExecutor(1) as pool:
        pool.submit(work).result()
        assert "pool" not in stages  # a pool thread does not inherit the context
        pool.submit(in_context(work)).result()
    assert stages["pool"] >= 4


def test_server_timing_round_trip() -> None:
    header = server_timing({"encode": 1.23456, "dense": 0.5})
    assert header == "encode;dur=1.235, dense;dur=0.500"
    assert parse_server_timing(header) == {"encode": 1.235, "dense": 0.5}
    assert parse_server_timing('cache;desc="hit", db;dur=bad, x;dur=2') == {"x": 2.0}
