"""Command line: `cloud-run-emulator --config FILE [--service NAME ...]`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from .config import ConfigError, load
from .log import RequestLog
from .server import serve
from .terraform import TerraformError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cloud-run-emulator",
        description="Local Cloud Run front door: IAM, concurrency, timeouts, probes, "
        "scale to zero, CPU only during requests. Settings from Terraform + a TOML file.",
    )
    p.add_argument(
        "--config",
        default=os.environ.get("CLOUD_RUN_EMULATOR_CONFIG", "cloud-run-emulator.toml"),
        help="TOML file with [[service]] tables [env CLOUD_RUN_EMULATOR_CONFIG]",
    )
    p.add_argument(
        "--service",
        action="append",
        metavar="NAME",
        help="front only these services of the config (repeatable; default all)",
    )
    p.add_argument(
        "--log-format",
        choices=("json", "text"),
        default=os.environ.get("CLOUD_RUN_EMULATOR_LOG_FORMAT", "json"),
        help="request log lines on stderr [env CLOUD_RUN_EMULATOR_LOG_FORMAT]",
    )
    return p


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        services = load(Path(args.config))
    except (ConfigError, TerraformError, OSError) as exc:
        parser.error(str(exc))
    if args.service:
        unknown = set(args.service) - {s.name for s in services}
        if unknown:
            parser.error(f"not in {args.config}: {', '.join(sorted(unknown))}")
        services = [s for s in services if s.name in args.service]
    log = RequestLog(args.log_format)
    try:
        _run(serve(services, log))
    except OSError as exc:
        print(f"cloud-run-emulator: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc


def _run(coro: Coroutine[Any, Any, None]) -> None:
    # uvloop when installed: it cuts the proxy's own latency.
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)


if __name__ == "__main__":
    main()
