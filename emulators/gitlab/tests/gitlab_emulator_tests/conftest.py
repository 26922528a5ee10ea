"""The shared fixtures, defined in support.py beside their helpers, and the emulator's log
attached to every failure of a test that used it (a 500 is explained only there)."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from .support import Emulator, clone, emulator, receiver, seeds

__all__ = ["clone", "emulator", "receiver", "seeds"]

LOG_TAIL_LINES = 80


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    running = getattr(item, "funcargs", {}).get("emulator")
    if report.failed and isinstance(running, Emulator) and running.log_path.exists():
        lines = running.log_path.read_text(errors="replace").splitlines()
        report.sections.append(("emulator log (tail)", "\n".join(lines[-LOG_TAIL_LINES:])))
    return report
