#!/usr/bin/env python3
"""Healthcheck of a container that runs its service behind the Cloud Run front door.

    door-probe                         # the door's instance passed its startup probe
    door-probe /ready --token-url URL  # GET /ready through the door, with an ID token from URL

It always goes through the door, never to the service's private port: with `cpu_idle` the
service is frozen between requests and only a request through the door wakes it. Exit 0 when
healthy, 1 with a one-line reason otherwise; tokens are never printed. Standard library only,
so any Python in the image runs it.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request

ADMIN_HEALTH = "/_emulator/health"


def door_state(base: str, timeout: float) -> str:
    with urllib.request.urlopen(base + ADMIN_HEALTH, timeout=timeout) as answer:  # noqa: S310
        body = json.load(answer)
    return str(body.get("state", "unknown"))


def fetch_token(url: str, timeout: float) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310
        return str(answer.read().decode().strip())


def get_through_door(base: str, path: str, token: str | None, timeout: float) -> int:
    headers = {"X-Serverless-Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(base + path, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
        return int(answer.status)


def probe(args: argparse.Namespace) -> str | None:
    """None when healthy, else why not."""
    base = f"http://127.0.0.1:{args.port}"
    if args.path is None:
        state = door_state(base, args.timeout)
        return None if state == "ready" else f"door state {state}"
    token = fetch_token(args.token_url, args.timeout) if args.token_url else None
    status = get_through_door(base, args.path, token, args.timeout)
    return None if status == 200 else f"{args.path} answered HTTP {status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("path", nargs="?", help="path to GET through the door (default: none)")
    parser.add_argument("--port", type=int, default=8080, help="the door's port")
    parser.add_argument("--token-url", help="where to GET an ID token to send (plain text)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    args = parser.parse_args(argv)
    try:
        problem = probe(args)
    except urllib.error.HTTPError as exc:
        problem = f"HTTP {exc.code} from {str(exc.filename).split('?')[0]}"
    except (OSError, ValueError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        print(f"unhealthy: {problem}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
