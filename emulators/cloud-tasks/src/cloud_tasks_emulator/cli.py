"""Command line: `cloud-tasks-emulator [options]`; every option also reads an env variable."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import ApiError
from .faults import Faults
from .names import parse_queue
from .server import Settings, serve

ENV_PREFIX = "CLOUD_TASKS_EMULATOR_"


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cloud-tasks-emulator",
        description="Local Google Cloud Tasks emulator (gRPC google.cloud.tasks.v2 + HTTP).",
    )
    p.add_argument(
        "--host",
        default=_env("BIND_HOST", "127.0.0.1"),
        help="address to bind both ports [env CLOUD_TASKS_EMULATOR_BIND_HOST]",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(_env("PORT", "8123")),
        help="gRPC port [env CLOUD_TASKS_EMULATOR_PORT]",
    )
    p.add_argument(
        "--http-port",
        type=int,
        default=int(_env("HTTP_PORT", "8124")),
        help="HTTP port for health/OIDC/JWKS [env CLOUD_TASKS_EMULATOR_HTTP_PORT]",
    )
    p.add_argument(
        "--queue",
        action="append",
        default=None,
        metavar="QUEUE_NAME",
        help="create projects/P/locations/L/queues/Q at start (repeatable) "
        "[env CLOUD_TASKS_EMULATOR_QUEUES, comma-separated]",
    )
    p.add_argument(
        "--issuer",
        default=_env("ISSUER", ""),
        help="OIDC issuer URL (default http://HOST:HTTP_PORT) [env CLOUD_TASKS_EMULATOR_ISSUER]",
    )
    p.add_argument(
        "--signing-key",
        default=_env("SIGNING_KEY", ""),
        metavar="PEM_FILE",
        help="RSA key for OIDC tokens, created (0600) if missing; share it with the metadata "
        "server emulator for one JWKS (default: a new key per start) "
        "[env CLOUD_TASKS_EMULATOR_SIGNING_KEY]",
    )
    p.add_argument(
        "--tombstone-seconds",
        type=float,
        default=float(_env("TOMBSTONE_SECONDS", "86400")),
        help="task-name de-duplication window [env CLOUD_TASKS_EMULATOR_TOMBSTONE_SECONDS]",
    )
    p.add_argument(
        "--task-retention-seconds",
        type=float,
        default=float(_env("TASK_RETENTION_SECONDS", str(31 * 24 * 3600))),
        help="age at which a task is deleted, dispatched or not (default 31 days) "
        "[env CLOUD_TASKS_EMULATOR_TASK_RETENTION_SECONDS]",
    )
    p.add_argument(
        "--log-format",
        choices=("json", "text"),
        default=_env("LOG_FORMAT", "json"),
        help="log line format [env CLOUD_TASKS_EMULATOR_LOG_FORMAT]",
    )
    p.add_argument(
        "--fault-duplicate",
        type=int,
        default=int(_env("FAULT_DUPLICATE", "1")),
        help="deliver each task N times [env CLOUD_TASKS_EMULATOR_FAULT_DUPLICATE]",
    )
    p.add_argument(
        "--fault-fail-after-response",
        type=float,
        default=float(_env("FAULT_FAIL_AFTER_RESPONSE", "0")),
        help="fraction of 2xx deliveries treated as failures "
        "[env CLOUD_TASKS_EMULATOR_FAULT_FAIL_AFTER_RESPONSE]",
    )
    p.add_argument(
        "--fault-delay-max",
        type=float,
        default=float(_env("FAULT_DELAY_MAX", "0")),
        help="random extra delay before each dispatch, seconds "
        "[env CLOUD_TASKS_EMULATOR_FAULT_DELAY_MAX]",
    )
    seed = _env("FAULT_SEED", "")
    p.add_argument(
        "--fault-seed",
        type=int,
        default=int(seed) if seed else None,
        help="seed for fault decisions [env CLOUD_TASKS_EMULATOR_FAULT_SEED]",
    )
    return p


def settings_from_args(argv: Sequence[str] | None = None) -> Settings:
    parser = build_parser()
    args = parser.parse_args(argv)
    queues: list[str] = (
        args.queue
        if args.queue is not None
        else [q.strip() for q in _env("QUEUES", "").split(",") if q.strip()]
    )
    try:
        for name in queues:
            parse_queue(name)
        faults = Faults(
            duplicate=args.fault_duplicate,
            fail_after_response=args.fault_fail_after_response,
            delay_max=args.fault_delay_max,
            seed=args.fault_seed,
        )
    except (ApiError, ValueError) as exc:
        parser.error(str(exc))
    if args.tombstone_seconds < 0:
        parser.error("--tombstone-seconds must be >= 0")
    if args.task_retention_seconds <= 0:
        parser.error("--task-retention-seconds must be > 0")
    return Settings(
        host=args.host,
        port=args.port,
        http_port=args.http_port,
        queues=queues,
        issuer=args.issuer,
        tombstone_seconds=args.tombstone_seconds,
        task_retention_seconds=args.task_retention_seconds,
        log_format=args.log_format,
        faults=faults,
        signing_key=Path(args.signing_key) if args.signing_key else None,
    )


def main(argv: Sequence[str] | None = None) -> None:
    settings = settings_from_args(argv)
    try:
        asyncio.run(serve(settings))
    except OSError as exc:
        print(f"cloud-tasks-emulator: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
