"""Pure rules without servers: auto-disabling arithmetic, branch filters, rate-limit windows,
pagination headers, config files."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.datastructures import URL

from gitlab_emulator.config import ConfigError, RateLimit, WebhookPolicy, load_file
from gitlab_emulator.hooks import Hook
from gitlab_emulator.pagination import Page, page_headers
from gitlab_emulator.ratelimit import RateLimiter

POLICY = WebhookPolicy()


def test_backoff_doubles_from_one_minute_to_a_day_then_disables_for_good() -> None:
    hook, now, periods = Hook(id=1, project_id=1, url="http://x"), 1000.0, []
    for failure in range(1, 41):
        hook.backoff(now, POLICY)
        assert hook.recent_failures == failure
        if failure <= 3:
            assert hook.alert_status(now) == "executable"
        elif failure < 40:
            assert hook.alert_status(now) == "temporarily_disabled"
            assert hook.disabled_until is not None
            periods.append(hook.disabled_until - now)
            hook.backoff(now, POLICY)  # failures while disabled do not count
            assert hook.recent_failures == failure
            now = hook.disabled_until + 1
    assert periods[:4] == [60, 120, 240, 480]
    assert max(periods) == periods[-1] == 86400
    assert hook.alert_status(now) == "disabled"
    hook.enable()
    assert hook.alert_status(now) == "executable" and hook.recent_failures == 0


@pytest.mark.parametrize(
    ("strategy", "pattern", "branch", "wanted"),
    [
        ("wildcard", "", "anything", True),
        ("wildcard", "main", "main", True),
        ("wildcard", "main", "main-2", False),
        ("wildcard", "*-stable", "16-stable", True),
        ("wildcard", "production/*", "production/eu", True),
        ("wildcard", "production/*", "staging/eu", False),
        ("regex", "^release-\\d+$", "release-12", True),
        ("regex", "^release-\\d+$", "main", False),
        ("all_branches", "ignored", "main", True),
    ],
)
def test_branch_filter(strategy: str, pattern: str, branch: str, wanted: bool) -> None:
    hook = Hook(
        id=1,
        project_id=1,
        url="http://x",
        push_events_branch_filter=pattern,
        branch_filter_strategy=strategy,
    )
    assert hook.wants_push(branch) is wanted


def test_rate_limit_window_is_fixed_and_aligned() -> None:
    now = [120.5]
    limiter = RateLimiter(RateLimit(limit=2, period=60), clock=lambda: now[0])
    assert [limiter.hit("a", True).allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("b", False).allowed  # another client has its own quota
    refused = limiter.hit("a", True)
    assert refused.headers["Retry-After"] == "60" and refused.headers["RateLimit-Reset"] == "180"
    now[0] = 180.0
    assert limiter.hit("a", True).allowed


def test_rate_limit_off_sends_no_headers() -> None:
    assert RateLimiter(RateLimit(limit=0)).hit("a", True).headers == {}


def test_page_headers_on_the_last_page() -> None:
    headers = page_headers(URL("http://h/api/v4/x?a=1"), Page(3, 10), 25)
    assert headers["X-Next-Page"] == "" and headers["X-Prev-Page"] == "2"
    assert headers["X-Total-Pages"] == "3"
    assert '<http://h/api/v4/x?a=1&page=2&per_page=10>; rel="prev"' in headers["Link"]
    assert 'rel="next"' not in headers["Link"]


def test_config_file(tmp_path: Path) -> None:
    (tmp_path / "seed").mkdir()
    (tmp_path / "c.toml").write_text(
        'tokens = ["t"]\n[[projects]]\npath = "a/b"\nseed_dir = "seed"\nvisibility = "public"\n'
        '[[projects.hooks]]\nurl = "http://127.0.0.1:1/h"\ntoken = "s"\n'
    )
    tokens, projects = load_file(tmp_path / "c.toml")
    assert tokens == ("t",)
    [project] = projects
    assert project.seed_dir == (tmp_path / "seed").resolve() and project.visibility == "public"
    assert project.hooks[0].token == "s"
    (tmp_path / "bad.toml").write_text('[[projects]]\npath = "nonamespace"\n')
    with pytest.raises(ConfigError):
        load_file(tmp_path / "bad.toml")


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_feeding_a_git_backend_that_already_exited_is_no_error(loop: str) -> None:
    """A ref advertisement's git exits without reading a body; when its stdin pipe was
    closed before the feeder wrote, uvloop raised RuntimeError and the request got a 500."""
    import asyncio
    from collections.abc import AsyncIterator

    import uvloop

    from gitlab_emulator.smart_http import _feed

    async def body() -> AsyncIterator[bytes]:
        yield b"0000"
        yield b""

    async def scenario() -> int | None:
        process = await asyncio.create_subprocess_exec(
            "true", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL
        )
        await process.wait()
        await asyncio.sleep(0.05)  # the loop notices the exit and closes the pipe
        await _feed(body(), process)
        return process.returncode

    if loop == "uvloop":
        assert uvloop.run(scenario()) == 0
    else:
        assert asyncio.run(scenario()) == 0
