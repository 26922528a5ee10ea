"""What thread pools are sized by (thoth.cpus): the declared limit, never more than the CPUs
the process may run on, and those CPUs when nothing is declared, whatever os.cpu_count() says."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future

import numpy as np
import pydantic
import pytest

from thoth import cpus
from thoth.config import Settings, get_settings
from thoth.serve.search import dense

BINDABLE = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


@pytest.fixture
def declare(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set THOTH_CPUS (or leave it unset) for get_settings(), restored afterwards."""
    monkeypatch.delenv("THOTH_CPUS", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_without_a_declared_limit_the_runnable_cpus_count(declare: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    assert cpus.usable() == cpus.runnable() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("declared", "expected"), [("1", 1), ("0.5", 1), ("1.2", 2), ("64", 0)])
def test_a_declared_limit_rounds_up_and_never_exceeds_the_runnable_cpus(
    declare: pytest.MonkeyPatch, declared: str, expected: int
) -> None:
    declare.setenv("THOTH_CPUS", declared)
    get_settings.cache_clear()
    assert cpus.usable() == (expected or cpus.runnable())
    assert f"THOTH_CPUS={float(declared):g}" in cpus.describe()


@pytest.mark.parametrize("declared", ["0", "-1", "two", "257"])
def test_a_bad_declared_limit_is_refused(declared: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="cpus"):
        Settings(cpus=declared)


@pytest.mark.skipif(not BINDABLE, reason="needs sched_setaffinity and two CPUs")
def test_a_process_bound_to_one_cpu_uses_one_though_the_machine_has_more() -> None:
    """What the local Cloud Run door does to a 1-vCPU container: os.cpu_count() still
    reports the machine, the pools follow the binding."""
    code = "import os; from thoth import cpus; print(cpus.usable(), os.cpu_count())"
    env = {k: v for k, v in os.environ.items() if k != "THOTH_CPUS"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["1", str(os.cpu_count())]


class Recording:
    """Stands in for the dense pool: counts the blocks it is given, runs them at once."""

    def __init__(self) -> None:
        self.blocks = 0

    def submit(self, fn: Callable[..., object], *args: object) -> Future[object]:
        self.blocks += 1
        done: Future[object] = Future()
        done.set_result(fn(*args))
        return done


@pytest.mark.parametrize(("declared", "blocks"), [("1", 0), ("2", 2)])
def test_the_dense_scan_splits_over_the_declared_cpus(
    declare: pytest.MonkeyPatch, declared: str, blocks: int
) -> None:
    if blocks > cpus.runnable():
        pytest.skip("needs two CPUs to split over")
    declare.setenv("THOTH_CPUS", declared)
    get_settings.cache_clear()
    pool = Recording()
    declare.setattr(dense, "_POOL", pool)
    declare.setattr(dense, "SPLIT_ROWS", 100)
    matrix = np.ones((1000, 8), dtype=np.float32)
    scores = dense._scores(matrix, np.ones(8, dtype=np.float32))
    np.testing.assert_allclose(scores, np.full(1000, 8.0))
    assert pool.blocks == blocks
