#!/usr/bin/env python3
"""Smoke-check a running Thoth: the same verification for a laptop, the compose stack, a
Cloud Run canary and production.

    python scripts/smoke.py MCP_BASE_URL [--worker WORKER_URL] [--id-token T] [--bearer T]

Checks, in order, through the `mcp` package's own Streamable HTTP client: `initialize`;
`tools/list` has the four tools; `list_sources` (reported, never fails on an empty list);
`search_handbook` returns at least one cited result; `get_document` opens that result's
path; then the worker's `/health` when a worker URL is given (the worker has no `/ready`).
A Google ID token goes in `X-Serverless-Authorization` (Cloud Run's IAM reads it there and
leaves `Authorization` alone), an app bearer token in `Authorization`; both can be sent.

Prints one line per check with its latency, then `smoke: OK` or
`smoke: FAILED <check>: <reason>` and exits 1 on a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2  # the mcp package's own httpx fork: its client takes httpx2 types
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

# examples/handbook/people/time-off.md answers it: the default works on every stack that
# serves the sample handbook (make up, compose, a fresh deployment seeded with it).
DEFAULT_QUERY = "How many days of paid time off do we get?"
REQUIRED_TOOLS = ("search_handbook", "get_document", "list_sources", "list_topics")


class CheckFailed(Exception):
    """A check's one-line reason; never carries a token."""


@dataclass
class Step:
    name: str
    ok: bool
    millis: float
    detail: str


@dataclass
class Options:
    mcp_url: str
    worker_url: str | None
    mcp_headers: dict[str, str]
    worker_headers: dict[str, str]
    query: str
    source: str | None
    timeout: float


@dataclass
class Run:
    """What the checks found so far; later checks read what earlier ones stored."""

    options: Options
    client: Client | None = None
    http_error: str | None = None  # the last HTTP status >= 400: the MCP client hides it
    first_result: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)


# --- the checks --------------------------------------------------------------------------
async def check_initialize(run: Run, stack: AsyncExitStack) -> str:
    http = create_mcp_http_client(
        headers=run.options.mcp_headers, timeout=_timeout(run.options.timeout)
    )
    await stack.enter_async_context(http)
    http.event_hooks["response"].append(lambda response: _note_status(run, response))
    # "legacy" is the initialize handshake itself, which is what every MCP client sends first.
    client = Client(streamable_http_client(run.options.mcp_url, http_client=http), mode="legacy")
    run.client = await stack.enter_async_context(client)
    info = run.client.server_info
    server = f"{info.name} {info.version}" if info else "unnamed server"
    return f"{server}, protocol {run.client.protocol_version}"


async def check_tools(run: Run, _: AsyncExitStack) -> str:
    names = {tool.name for tool in (await _client(run).list_tools()).tools}
    missing = [name for name in REQUIRED_TOOLS if name not in names]
    if missing:
        raise CheckFailed(f"tools/list is missing {', '.join(missing)}")
    return f"{len(names)} tools"


async def check_sources(run: Run, _: AsyncExitStack) -> str:
    body = await _call(run, "list_sources", {})
    sources = body.get("sources", [])
    if not sources:
        return "no source has an index yet"
    return ", ".join(
        f"{s['source']}@{s.get('index_version')} ({s.get('documents')} documents)" for s in sources
    )


async def check_search(run: Run, _: AsyncExitStack) -> str:
    arguments: dict[str, Any] = {"query": run.options.query, "num_results": 3}
    if run.options.source:
        arguments["source"] = run.options.source
    body = await _call(run, "search_handbook", arguments)
    results = body.get("results", [])
    if not results:
        raise CheckFailed("search returned no results")
    top = results[0]
    if not top.get("path"):
        raise CheckFailed("search result carries no citation (no path)")
    run.first_result = top
    # A URL exists only for sources with a base_url (the sample handbook has none).
    link = top.get("url") or "no url: the source has no base_url"
    return (
        f"{len(results)} results from {body.get('index_version')}; "
        f"top {top['path']} ({link}, score {float(top.get('score', 0)):.3f})"
    )


async def check_document(run: Run, _: AsyncExitStack) -> str:
    path = run.first_result["path"]
    arguments = {"path": path}
    if run.first_result.get("source"):
        arguments["source"] = run.first_result["source"]
    body = await _call(run, "get_document", arguments)
    if body.get("path") != path or not body.get("text"):
        raise CheckFailed(f"get_document returned no text for {path}")
    return f"{path}: {body.get('title')!r}, {len(body['text'])} characters"


async def check_worker(run: Run, _: AsyncExitStack) -> str:
    url = f"{run.options.worker_url}/health"
    async with httpx.AsyncClient(timeout=run.options.timeout) as http:
        response = await http.get(url, headers=run.options.worker_headers)
    if response.status_code != 200:
        raise CheckFailed(f"worker /health answered HTTP {response.status_code}")
    return response.text.strip()[:80]


Check = Callable[[Run, AsyncExitStack], Awaitable[str]]


def checks(options: Options) -> list[tuple[str, Check]]:
    selected: list[tuple[str, Check]] = [
        ("initialize", check_initialize),
        ("tools/list", check_tools),
        ("list_sources", check_sources),
        ("search_handbook", check_search),
        ("get_document", check_document),
    ]
    if options.worker_url:
        selected.append(("worker /health", check_worker))
    return selected


# --- running and reporting -----------------------------------------------------------------
async def smoke(options: Options) -> Run:
    run = Run(options)
    async with AsyncExitStack() as stack:
        for name, check in checks(options):
            started = time.perf_counter()
            try:
                detail = await check(run, stack)
            except Exception as exc:  # every failure becomes the run's one-line reason
                why = reason(exc)
                if run.http_error and run.http_error not in why:
                    why = f"{why} ({run.http_error})"
                run.steps.append(Step(name, False, _since(started), why))
                break
            run.steps.append(Step(name, True, _since(started), detail))
    return run


def reason(exc: BaseException) -> str:
    """The innermost useful message: anyio wraps transport errors in exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, CheckFailed):
        return str(exc)
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {exc.request.url}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def report(run: Run) -> str:
    lines = [f"smoke check of {run.options.mcp_url}"]
    for step in run.steps:
        mark = "ok  " if step.ok else "FAIL"
        lines.append(f"  {mark}  {step.name:<16} {step.millis:7.0f} ms  {step.detail}")
    failed = next((s for s in run.steps if not s.ok), None)
    if failed:
        lines.append(f"smoke: FAILED {failed.name}: {failed.detail}")
    else:
        total = sum(s.millis for s in run.steps)
        lines.append(f"smoke: OK, {len(run.steps)} checks in {total:.0f} ms")
    return "\n".join(lines)


def markdown(run: Run) -> str:
    rows = [f"#### Smoke check of `{run.options.mcp_url}`", "", "| check | result | ms | detail |"]
    rows.append("|---|---|---:|---|")
    for step in run.steps:
        result = "ok" if step.ok else "**FAILED**"
        detail = step.detail.replace("|", "\\|")
        rows.append(f"| {step.name} | {result} | {step.millis:.0f} | {detail} |")
    return "\n".join(rows) + "\n\n"


# --- helpers -------------------------------------------------------------------------------
def _client(run: Run) -> Client:
    if run.client is None:
        raise CheckFailed("not connected")
    return run.client


async def _call(run: Run, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await _client(run).call_tool(tool, arguments)
    if result.is_error:
        text = " ".join(getattr(block, "text", "") for block in result.content).strip()
        raise CheckFailed(f"{tool} answered an error: {text[:200]}")
    if result.structured_content is None:
        raise CheckFailed(f"{tool} returned no structured content")
    return dict(result.structured_content)


async def _note_status(run: Run, response: httpx2.Response) -> None:
    if response.status_code >= 400:
        run.http_error = f"HTTP {response.status_code} from {response.request.url}"


def _timeout(seconds: float) -> httpx2.Timeout:
    return httpx2.Timeout(seconds, read=seconds)


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def mcp_endpoint(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith("/mcp") else f"{base}/mcp"


def parse(argv: list[str]) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("url", help="MCP server base URL (…/mcp is appended when missing)")
    parser.add_argument("--worker", help="ingestion worker base URL: also check its /health")
    parser.add_argument("--id-token", help="Google ID token, sent as X-Serverless-Authorization")
    parser.add_argument("--worker-id-token", help="ID token for the worker (default: --id-token)")
    parser.add_argument(
        "--bearer", help="app bearer token (THOTH_MCP_TOKENS), sent as Authorization"
    )
    parser.add_argument("--query", default=DEFAULT_QUERY, help="question for search_handbook")
    parser.add_argument("--source", help="restrict the search to one source")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--summary", type=Path, help="append a markdown report to this file")
    args = parser.parse_args(argv)
    options = Options(
        mcp_url=mcp_endpoint(args.url),
        worker_url=args.worker.rstrip("/") if args.worker else None,
        mcp_headers=headers(args.id_token, args.bearer),
        worker_headers=headers(args.worker_id_token or args.id_token, None),
        query=args.query,
        source=args.source,
        timeout=args.timeout,
    )
    return options, args.summary


def headers(id_token: str | None, bearer: str | None) -> dict[str, str]:
    sent: dict[str, str] = {}
    if id_token:
        sent["X-Serverless-Authorization"] = f"Bearer {id_token}"
    if bearer:
        sent["Authorization"] = f"Bearer {bearer}"
    return sent


def main(argv: list[str] | None = None) -> int:
    options, summary = parse(sys.argv[1:] if argv is None else argv)
    run = asyncio.run(smoke(options))
    print(report(run), flush=True)
    if summary:
        with summary.open("a", encoding="utf-8") as out:
            out.write(markdown(run))
    return 1 if any(not step.ok for step in run.steps) else 0


if __name__ == "__main__":
    sys.exit(main())
