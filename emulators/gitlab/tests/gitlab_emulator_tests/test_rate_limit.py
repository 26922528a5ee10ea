"""The configurable rate limit: RateLimit-* headers (on 429s, on every answer, or on none),
429 + Retry-After, and the real thoth GitLabClient waiting it out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import PROJECT, TOKEN, Emulator, encoded, start_emulator, thoth_gitlab, write_tree

LIMIT = 3
PERIOD = 2.0


@pytest.fixture
def limited(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """An emulator with a rate limit; `@pytest.mark.parametrize("limited", [MODE],
    indirect=True)` picks which answers carry the headers (default: GitLab's, 429s only)."""
    mode = getattr(request, "param", "throttled")
    seed = write_tree(tmp_path / "seed", {f"{name}.md": f"# {name}\n" for name in "abcd"})
    proc = start_emulator(
        tmp_path,
        "--project", PROJECT,
        "--seed-dir", str(seed),
        "--rate-limit", str(LIMIT),
        "--rate-limit-period", str(PERIOD),
        "--rate-limit-headers", mode,
    )  # fmt: skip
    yield proc
    proc.stop()


def _fresh_window() -> None:
    """Start at the beginning of a window, so the test's requests share one."""
    time.sleep(PERIOD - time.time() % PERIOD + 0.05)


@pytest.mark.parametrize("limited", ["every"], indirect=True)
def test_headers_then_429_with_retry_after(limited: Emulator) -> None:
    api = limited.api()
    _fresh_window()
    answers = [api.get(f"/projects/{encoded(PROJECT)}") for _ in range(LIMIT + 1)]
    assert [a.status_code for a in answers] == [200] * LIMIT + [429]
    first, throttled = answers[0], answers[-1]
    assert first.headers["RateLimit-Limit"] == str(round(LIMIT * 60 / PERIOD))
    assert first.headers["RateLimit-Observed"] == "1"
    assert first.headers["RateLimit-Remaining"] == str(LIMIT - 1)
    assert int(first.headers["RateLimit-Reset"]) >= int(time.time())
    assert throttled.text == "Retry later\n"
    assert throttled.headers["RateLimit-Remaining"] == "0"
    assert throttled.headers["RateLimit-Name"] == "throttle_authenticated_api"
    assert throttled.headers["RateLimit-ResetTime"].endswith("GMT")
    assert 1 <= int(throttled.headers["Retry-After"]) <= PERIOD


def test_thoth_client_honours_retry_after(limited: Emulator) -> None:
    GitLabClient = thoth_gitlab().GitLabClient  # noqa: N806

    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    _fresh_window()
    with GitLabClient(limited.url, TOKEN, sleep=sleep) as client:
        tree = client.list_tree(PROJECT, "main")
        contents = [client.get_file(PROJECT, entry.blob_id) for entry in tree.entries]
    assert sorted(e.path for e in tree.entries) == [f"{name}.md" for name in "abcd"]
    assert sorted(contents) == [f"# {name}\n".encode() for name in "abcd"]
    # 3 of the 5 requests fit the window; the 4th was refused, then retried after Retry-After.
    assert slept and all(1 <= s <= PERIOD for s in slept)


def test_by_default_only_a_throttled_answer_has_the_headers(limited: Emulator) -> None:
    api = limited.api()
    _fresh_window()
    answers = [api.get(f"/projects/{encoded(PROJECT)}") for _ in range(LIMIT + 1)]
    assert [a.status_code for a in answers] == [200] * LIMIT + [429]
    assert not [h for h in answers[0].headers if h.lower().startswith("ratelimit-")]
    assert answers[-1].headers["RateLimit-Remaining"] == "0"
    assert "Retry-After" in answers[-1].headers


@pytest.mark.parametrize("limited", ["none"], indirect=True)
def test_a_bare_429_and_the_thoth_client_outlasting_it(limited: Emulator) -> None:
    api = limited.api()
    _fresh_window()
    answers = [api.get(f"/projects/{encoded(PROJECT)}") for _ in range(LIMIT + 1)]
    assert answers[-1].status_code == 429
    assert not [h for h in answers[-1].headers if h.lower().startswith(("ratelimit-", "retry"))]

    GitLabClient = thoth_gitlab().GitLabClient  # noqa: N806
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(min(seconds, PERIOD))  # the window is 2 s here, not GitLab's minute

    with GitLabClient(limited.url, TOKEN, sleep=sleep) as client:
        tree = client.list_tree(PROJECT, "main")
    assert len(tree.entries) == 4
    assert slept and slept[0] >= 5  # a bare 429 waits longer than a 5xx does
