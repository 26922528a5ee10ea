"""Push-to-searchable time through the local stack (issue 14).

Against the stack `make up` runs (start it first): the local GitLab on 8929 holds the sample
handbook as `group/handbook`, its push webhook goes to the public receiver's front door, the
receiver queues a push task for the private worker, the worker ingests the change at the
pushed commit and publishes, and the MCP server (behind its door on 8080) polls and swaps.

For each of N pushes the bench clones the project once, adds a short section about a word
that exists nowhere else to one page, commits, pushes with the real `git` and starts the
clock as the push begins; then it asks `search_handbook` (over MCP, through the front door)
for that word every 0.2 s until a result holds it, and checks that the result's citation
is pinned to the pushed commit. Pushes go one after another: the next starts when the
previous one is searchable.

    .venv/bin/python bench/freshness.py --pushes 20 --label sample
    .venv/bin/python bench/freshness.py --bulk-pages 6600 --pushes 10 --label 50k

At the end, pass or fail, one more commit puts the project's files back as they were before
the run (its push is indexed like any other, and nobody waits for it).

With `--bulk-pages N`, one commit first adds bench/ingest.py's synthetic pages (N pages of
~10 sections, ~51,000 chunks at 6,600) under `synthetic/`, and the bench waits for that
ingest (a real one: ~15-30 min on 2 vCPU) before the measured pushes, which then each
publish an index of that size.

Results: bench/results/freshness.md and .json (one section per label).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for bench/ingest.py

from common import RESULTS, latency_summary, machine, markdown_table
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from thoth_devstack.services import GITLAB_PORT, GITLAB_PROJECT, GITLAB_TOKEN, MCP_PORT
from thoth_devstack.tokens import TokenUnavailable, iam_headers

PAGE = "people/time-off.md"  # any page of examples/handbook; the probe sentence goes at its end
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Freshness Bench",
    "GIT_AUTHOR_EMAIL": "bench@thoth.local",
    "GIT_COMMITTER_NAME": "Freshness Bench",
    "GIT_COMMITTER_EMAIL": "bench@thoth.local",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"git {args[0]} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def clone(workdir: Path) -> Path:
    url = f"http://oauth2:{GITLAB_TOKEN}@127.0.0.1:{GITLAB_PORT}/{GITLAB_PROJECT}.git"
    target = workdir / "handbook"
    git(workdir, "clone", "--quiet", url, str(target))
    if not (target / PAGE).is_file():
        raise SystemExit(f"{PAGE} is not in {GITLAB_PROJECT}: is this the stack of `make up`?")
    return target


def restore(repo: Path, start: str) -> None:
    """Push one commit that puts the project's files back as they were at `start`: the probe
    sections and the synthetic pages would otherwise stay in the local GitLab, and every later
    `make up` would index them again (~51,000 chunks after --bulk-pages 6600)."""
    if git(repo, "rev-parse", "HEAD") == start:
        return
    git(repo, "restore", f"--source={start}", "--staged", "--worktree", "--", ".")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "freshness bench: restore the handbook")
    git(repo, "push", "--quiet", "origin", "HEAD:main")
    print(f"restored {GITLAB_PROJECT} to the files of {start[:12]}", flush=True)


def push_probe(repo: Path, word: str) -> tuple[str, float]:
    """Add a section about `word` to PAGE, commit and push; (commit, clock start). A section
    of its own makes its own chunk, so the probe is found the way a real edit is."""
    page = repo / PAGE
    section = (
        f"\n\n## The {word} aquarium\n\nThe {word} aquarium in the kitchen is fed on "
        "Fridays by whoever is on the office rota that week.\n"
    )
    page.write_text(page.read_text() + section)
    git(repo, "commit", "--quiet", "-am", f"freshness probe {word}")
    commit = git(repo, "rev-parse", "HEAD")
    started = time.perf_counter()
    git(repo, "push", "--quiet", "origin", "HEAD:main")
    return commit, started


def push_bulk(repo: Path, pages: int) -> tuple[str, float]:
    """One commit adding the synthetic corpus under synthetic/; (commit, clock start)."""
    from ingest import synthetic_corpus

    target = repo / "synthetic"
    if not target.is_dir():
        shutil.copytree(synthetic_corpus(pages), target)
        git(repo, "add", "synthetic")
        git(repo, "commit", "--quiet", "-m", f"{pages} synthetic pages")
    commit = git(repo, "rev-parse", "HEAD")
    started = time.perf_counter()
    git(repo, "push", "--quiet", "origin", "HEAD:main")
    return commit, started


async def wait_indexed(client: Client, commit: str, started: float, limit_s: float) -> int:
    """Wait until the source is indexed at `commit`; its chunk count."""
    last_report = 0.0
    while time.perf_counter() - started < limit_s:
        listed = await client.call_tool("list_sources", {})
        for info in (listed.structured_content or {}).get("sources", []):
            if info.get("commit") == commit:
                return int(info["chunks"])
            if time.perf_counter() - last_report > 30:
                last_report = time.perf_counter()
                elapsed = last_report - started
                print(
                    f"  bulk ingest: {elapsed:.0f} s, serving {info['chunks']} chunks", flush=True
                )
        await asyncio.sleep(5)
    raise SystemExit(f"the bulk commit was not indexed {limit_s:.0f} s after its push")


@asynccontextmanager
async def mcp(url: str, headers: dict[str, str]) -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers=headers)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        yield client


async def door_headers(url: str) -> dict[str, str]:
    """No headers through an open door; an invoker's ID token when `make up` enforces IAM."""
    async with httpx.AsyncClient(timeout=10) as http:
        status = (await http.post(url, json={})).status_code
    if status not in (401, 403):
        return {}
    try:
        return iam_headers(url.removesuffix("/mcp"))
    except TokenUnavailable as error:
        raise SystemExit(f"the MCP door wants an ID token and none is available: {error}") from None


async def found(client: Client, word: str) -> dict[str, Any] | None:
    query = f"Who feeds the {word} aquarium?"
    result = await client.call_tool("search_handbook", {"query": query, "num_results": 3})
    for hit in (result.structured_content or {}).get("results", []):
        if word in hit.get("text", ""):
            return dict(hit)
    return None


async def wait_searchable(
    client: Client, word: str, started: float, limit_s: float
) -> tuple[float, dict[str, Any]]:
    while time.perf_counter() - started < limit_s:
        hit = await found(client, word)
        if hit is not None:
            return time.perf_counter() - started, hit
        await asyncio.sleep(0.2)
    raise SystemExit(f"{word!r} was not searchable {limit_s:.0f} s after its push")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = f"http://127.0.0.1:{MCP_PORT}/mcp"
    headers = await door_headers(url)
    seconds: list[float] = []
    pinned = 0
    with tempfile.TemporaryDirectory(prefix="thoth-freshness-") as tmp:
        repo = clone(Path(tmp))
        start = git(repo, "rev-parse", "HEAD")
        try:
            async with mcp(url, headers) as client:
                chunks = None
                if args.bulk_pages:
                    commit, started = push_bulk(repo, args.bulk_pages)
                    chunks = await wait_indexed(client, commit, started, 3600)
                    bulk_s = time.perf_counter() - started
                    print(f"bulk commit indexed: {chunks} chunks in {bulk_s:.0f} s", flush=True)
                for n in range(1, args.pushes + 1):
                    word = f"quokka{secrets.token_hex(4)}"
                    commit, started = push_probe(repo, word)
                    elapsed, hit = await wait_searchable(client, word, started, args.timeout)
                    seconds.append(elapsed)
                    pinned += commit in str(hit.get("url", "")) and hit.get("commit") == commit
                    print(f"push {n}/{args.pushes}: searchable after {elapsed:.2f} s", flush=True)
        finally:
            restore(repo, start)
    summary = latency_summary(seconds)
    return {
        "label": args.label,
        "note": args.note,
        "machine": machine(),
        "pushes": len(seconds),
        "chunks": chunks,
        "pinned_to_commit": pinned,
        "seconds": [round(s, 3) for s in seconds],
        "p50_s": round(summary["p50_ms"] / 1000, 2),
        "p95_s": round(summary["p95_ms"] / 1000, 2),
        "max_s": round(max(seconds), 2),
    }


def render(runs: list[dict[str, Any]]) -> str:
    rows = [
        [
            r["label"],
            f"{r['chunks']:,}" if r.get("chunks") else "sample handbook",
            r["pushes"],
            r["p50_s"],
            r["p95_s"],
            r["max_s"],
            r["pinned_to_commit"],
        ]
        for r in runs
    ]
    header = ["run", "chunks", "pushes", "p50 s", "p95 s", "max s", "pinned to the commit"]
    lines = [
        "# Push to searchable (bench/freshness.py)",
        "",
        "From the start of `git push` to the first `search_handbook` answer holding the pushed "
        "sentence, through the stack of `make up` (local GitLab -> webhook receiver -> Cloud "
        "Tasks -> worker -> bucket -> MCP server, each service behind its front door).",
        "",
        markdown_table(header, rows),
        "",
    ]
    for r in runs:
        m = r["machine"]
        lines.append(
            f"- {r['label']}: {r['note'] or 'no note'}. Machine: {m.get('cpus')} vCPU, load "
            f"average at start {m.get('loadavg_at_start')}; seconds per push: {r['seconds']}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=20, help="pushes, one after another")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per push at most")
    parser.add_argument("--label", default="sample", help="name of this run in the results")
    parser.add_argument(
        "--bulk-pages", type=int, default=0, help="first add this many synthetic pages"
    )
    parser.add_argument("--note", default="", help="one line shown with the run")
    args = parser.parse_args(argv)
    if not 1 <= args.pushes <= 200:
        parser.error("--pushes must be 1..200")
    result = asyncio.run(run(args))
    print(json.dumps({k: v for k, v in result.items() if k != "seconds"}, indent=2))
    out = RESULTS / "freshness.json"
    runs = json.loads(out.read_text())["runs"] if out.is_file() else []
    runs = [r for r in runs if r["label"] != result["label"]] + [result]
    out.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    out.with_suffix(".md").write_text(render(runs))


if __name__ == "__main__":
    main()
