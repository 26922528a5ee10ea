"""Command line: `gitlab-emulator [options]`; every option also reads an env variable."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from .app import Emulator
from .config import (
    ConfigError,
    HookSpec,
    ProjectSpec,
    RateLimit,
    Settings,
    WebhookPolicy,
    load_file,
    project_spec,
)

ENV_PREFIX = "GITLAB_EMULATOR_"


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in _env(name, "").split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gitlab-emulator",
        description="Local GitLab: git over smart HTTP, a REST API v4 subset, push webhooks.",
    )
    add = p.add_argument
    add("--host", default=_env("HOST", "127.0.0.1"), help="bind address [env GITLAB_EMULATOR_HOST]")
    add(
        "--port",
        type=int,
        default=int(_env("PORT", "8929")),
        help="port [env GITLAB_EMULATOR_PORT]",
    )
    add(
        "--data-dir",
        default=_env("DATA_DIR", ".gitlab-emulator"),
        help="bare repositories and state [env GITLAB_EMULATOR_DATA_DIR]",
    )
    add(
        "--external-url",
        default=_env("EXTERNAL_URL", ""),
        help="base URL clients use [env GITLAB_EMULATOR_EXTERNAL_URL]",
    )
    add(
        "--config",
        default=_env("CONFIG", ""),
        help="TOML file of projects, hooks and tokens [env GITLAB_EMULATOR_CONFIG]",
    )
    add(
        "--project",
        action="append",
        default=None,
        metavar="NAMESPACE/NAME",
        help="project to create if missing (repeatable) [env GITLAB_EMULATOR_PROJECTS]",
    )
    add(
        "--seed-dir",
        default=_env("SEED_DIR", ""),
        help="folder committed as each new --project's first commit [env GITLAB_EMULATOR_SEED_DIR]",
    )
    add(
        "--visibility",
        choices=("private", "internal", "public"),
        default=_env("VISIBILITY", "private"),
        help="visibility of --project projects [env GITLAB_EMULATOR_VISIBILITY]",
    )
    add(
        "--token",
        action="append",
        default=None,
        help="accepted access token (repeatable) [env GITLAB_EMULATOR_TOKENS, comma-separated]",
    )
    add(
        "--hook",
        action="append",
        default=None,
        metavar="URL",
        help="push webhook on every --project (repeatable) [env GITLAB_EMULATOR_HOOKS]",
    )
    add(
        "--hook-token",
        default=_env("HOOK_TOKEN", ""),
        help="secret token (X-Gitlab-Token) of --hook webhooks [env GITLAB_EMULATOR_HOOK_TOKEN]",
    )
    add(
        "--hook-branch-filter",
        default=_env("HOOK_BRANCH_FILTER", ""),
        help="wildcard branch filter of --hook webhooks [env GITLAB_EMULATOR_HOOK_BRANCH_FILTER]",
    )
    add(
        "--webhook-timeout",
        type=float,
        default=float(_env("WEBHOOK_TIMEOUT", "10")),
        help="seconds before a delivery fails [env GITLAB_EMULATOR_WEBHOOK_TIMEOUT]",
    )
    add(
        "--webhook-initial-backoff",
        type=float,
        default=float(_env("WEBHOOK_INITIAL_BACKOFF", "60")),
        help="first auto-disable period, seconds [env GITLAB_EMULATOR_WEBHOOK_INITIAL_BACKOFF]",
    )
    add(
        "--webhook-max-backoff",
        type=float,
        default=float(_env("WEBHOOK_MAX_BACKOFF", "86400")),
        help="longest auto-disable period, seconds [env GITLAB_EMULATOR_WEBHOOK_MAX_BACKOFF]",
    )
    add(
        "--push-event-hooks-limit",
        type=int,
        default=int(_env("PUSH_EVENT_HOOKS_LIMIT", "3")),
        help="more refs per push: no hooks [env GITLAB_EMULATOR_PUSH_EVENT_HOOKS_LIMIT]",
    )
    add(
        "--webhook-max-delay",
        type=float,
        default=float(_env("WEBHOOK_MAX_DELAY", "0")),
        help="each delivery first waits a random 0..N seconds, so deliveries arrive out of "
        "order as GitLab's can [env GITLAB_EMULATOR_WEBHOOK_MAX_DELAY]",
    )
    add(
        "--rate-limit",
        type=int,
        default=int(_env("RATE_LIMIT", "0")),
        help="API requests per period per client, 0 = off [env GITLAB_EMULATOR_RATE_LIMIT]",
    )
    add(
        "--rate-limit-period",
        type=float,
        default=float(_env("RATE_LIMIT_PERIOD", "60")),
        help="rate-limit window, seconds [env GITLAB_EMULATOR_RATE_LIMIT_PERIOD]",
    )
    add(
        "--rate-limit-headers",
        choices=("throttled", "every", "none"),
        default=_env("RATE_LIMIT_HEADERS", "throttled"),
        help="answers with RateLimit-* headers: 429s only (GitLab's default), every answer, "
        "or none, not even Retry-After [env GITLAB_EMULATOR_RATE_LIMIT_HEADERS]",
    )
    add(
        "--http-impl",
        choices=("auto", "h11", "httptools"),
        default=_env("HTTP_IMPL", "auto"),
        help="uvicorn's HTTP parser [env GITLAB_EMULATOR_HTTP_IMPL]",
    )
    add(
        "--loop-impl",
        choices=("auto", "asyncio", "uvloop"),
        default=_env("LOOP_IMPL", "auto"),
        help="uvicorn's event loop [env GITLAB_EMULATOR_LOOP_IMPL]",
    )
    add(
        "--log-level",
        default=_env("LOG_LEVEL", "info"),
        choices=("debug", "info", "warning", "error"),
        help="[env GITLAB_EMULATOR_LOG_LEVEL]",
    )
    return p


def settings_from_args(argv: Sequence[str] | None = None) -> Settings:
    parser = build_parser()
    return _settings(parser, parser.parse_args(argv))


def _settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Settings:
    try:
        tokens, projects = load_file(Path(args.config)) if args.config else ((), ())
        tokens += tuple(args.token if args.token is not None else _env_list("TOKENS"))
        projects += _cli_projects(args)
        if args.rate_limit < 0 or args.rate_limit_period <= 0 or args.webhook_timeout <= 0:
            raise ConfigError("rate limits and the webhook timeout must be positive")
        if not 0 <= args.webhook_max_delay <= 3600:
            raise ConfigError("--webhook-max-delay must be 0-3600 seconds")
    except ConfigError as exc:
        parser.error(str(exc))
    return Settings(
        data_dir=Path(args.data_dir).resolve(),
        host=args.host,
        port=args.port,
        external_url=args.external_url,
        tokens=tokens,
        projects=projects,
        webhooks=WebhookPolicy(
            timeout=args.webhook_timeout,
            initial_backoff=args.webhook_initial_backoff,
            max_backoff=args.webhook_max_backoff,
            push_event_hooks_limit=args.push_event_hooks_limit,
            max_delay=args.webhook_max_delay,
        ),
        rate_limit=RateLimit(
            limit=args.rate_limit, period=args.rate_limit_period, headers=args.rate_limit_headers
        ),
        log_level=args.log_level,
    )


def _cli_projects(args: argparse.Namespace) -> tuple[ProjectSpec, ...]:
    paths = args.project if args.project is not None else _env_list("PROJECTS")
    urls = args.hook if args.hook is not None else _env_list("HOOKS")
    hooks = tuple(
        HookSpec(url=url, token=args.hook_token, push_events_branch_filter=args.hook_branch_filter)
        for url in urls
    )
    seed = Path(args.seed_dir).resolve() if args.seed_dir else None
    return tuple(project_spec(path, args.visibility, seed, hooks) for path in paths)


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = _settings(parser, args)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s %(message)s"
    )
    app = Emulator(settings).application()
    # uvicorn's access log would print query strings, which may hold a private_token.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        http=args.http_impl,
        loop=args.loop_impl,
    )


if __name__ == "__main__":
    main()
