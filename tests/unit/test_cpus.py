"""What thread pools are sized by (thoth.cpus): the declared limit, never more than the CPUs
the process may run on, and those CPUs when nothing is declared, whatever os.cpu_count() says."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pydantic
import pytest

from thoth import cpus
from thoth.config import Settings, get_settings
from thoth.serve.search import dense

BINDABLE = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


@pytest.fixture
def declare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """Set THOTH_CPUS (or leave it unset) for get_settings(), restored afterwards; from a
    folder without a `.env` that could set it too."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("THOTH_CPUS", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_without_a_declared_limit_the_runnable_cpus_count(declare: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    assert cpus.usable() == cpus.runnable() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("declared", "expected"), [("1", 1), ("0.5", 1), ("1.2", 2), ("256", 0)])
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
        cwd=Path(__file__).parent,  # no `.env` here
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["1", str(os.cpu_count())]


class Recording:
    """Stands in for the dense pool: keeps its size, counts the blocks it is given and runs
    each at once."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "") -> None:
        self.max_workers = max_workers
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
    made: list[Recording] = []
    declare.setattr(
        dense, "ThreadPoolExecutor", lambda **kw: made.append(Recording(**kw)) or made[-1]
    )
    declare.setattr(dense, "_POOL", None)
    declare.setattr(dense, "SPLIT_ROWS", 100)
    matrix = np.ones((1000, 8), dtype=np.float32)
    scores = dense._scores(matrix, np.ones(8, dtype=np.float32))
    np.testing.assert_allclose(scores, np.full(1000, 8.0))
    assert [(pool.max_workers, pool.blocks) for pool in made] == [(int(declared), blocks)]


def test_a_small_scan_reads_neither_the_cpu_count_nor_the_settings(
    declare: pytest.MonkeyPatch,
) -> None:
    """An unrelated bad setting must not break searches of a small index: only a scan big
    enough to split asks how many CPUs there are."""
    declare.setenv("THOTH_CPUS", "not a number")
    get_settings.cache_clear()
    declare.setattr(dense, "_POOL", None)
    matrix = np.ones((10, 8), dtype=np.float32)
    np.testing.assert_allclose(dense._scores(matrix, np.ones(8, dtype=np.float32)), 8.0)
    assert dense._POOL is None
