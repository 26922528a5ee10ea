"""The compose stack end to end: the repo's own images, built and started by testcontainers'
`DockerCompose`, driven through the MCP endpoint with the `mcp` package's own client.

Both services sit behind their Cloud Run front doors with IAM on, as deployed
(THOTH_MCP_DOOR=iam): every request carries the developer's ID token from the stack's
metadata server in `X-Serverless-Authorization`, and ingestion goes CLI -> Cloud Tasks -> the
worker's door with the tasks service account's token.

The stack runs under its own project name and host ports, so a developer's `make up` or
`docker compose up` on the default ports is left alone. Without a usable Docker engine the
tests are skipped (with the reason), unless THOTH_REQUIRE_DOCKER=1, where that is a failure.
Offline machines: run scripts/docker-setup.sh first; when THOTH_BASE_IMAGE is unset and the
local base image and wheelhouse it builds are present, the build uses them.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
OFFLINE_BASE_IMAGE = "thoth-base:bookworm"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Its own project name and free host ports: a developer's stack on the default ports and a
# second test run at the same time are left alone.
PROJECT = os.environ.get("THOTH_E2E_PROJECT", f"thoth-e2e-{os.getpid()}")
PORTS = {
    name: _free_port()
    for name in (
        "THOTH_GCS_HOST_PORT",
        "THOTH_TASKS_HOST_PORT",
        "THOTH_TASKS_HTTP_HOST_PORT",
        "THOTH_METADATA_HOST_PORT",
        "THOTH_GITLAB_HOST_PORT",
        "THOTH_WORKER_HOST_PORT",
        "THOTH_WEBHOOK_HOST_PORT",
        "THOTH_MCP_HOST_PORT",
    )
}
MCP_URL = f"http://127.0.0.1:{PORTS['THOTH_MCP_HOST_PORT']}/mcp"
WORKER_URL = f"http://127.0.0.1:{PORTS['THOTH_WORKER_HOST_PORT']}"
METADATA_URL = f"http://127.0.0.1:{PORTS['THOTH_METADATA_HOST_PORT']}"
GITLAB_URL = f"http://127.0.0.1:{PORTS['THOTH_GITLAB_HOST_PORT']}"
WEBHOOK_URL = f"http://127.0.0.1:{PORTS['THOTH_WEBHOOK_HOST_PORT']}"
RUNNING = ("fake-gcs", "cloud-tasks", "metadata", "gitlab", "ingestion", "webhook", "mcp")
SERVICES = ("issuer-key", *RUNNING, "seed")
ONE_SHOTS = ("issuer-key", "seed")
# The audiences the doors accept (emulators/cloud-run/compose/*.toml): the worker's is
# THOTH_WORKER_URL, whatever host port it is published on; MCP's is its default host URL.
WORKER_AUDIENCE = "http://ingestion:8080"
MCP_AUDIENCE = "http://127.0.0.1:8080"
DEV_USER = "dev@thoth.local"


def _docker_problem() -> str | None:
    """Why this machine cannot run the stack, or None when it can."""
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker CLI unusable: {exc}"
    if info.returncode != 0:
        return f"no Docker engine reachable (`docker info`: {info.stderr.strip()[:200]})"
    compose = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, timeout=30
    )
    if compose.returncode != 0:
        return "the docker compose plugin is missing (scripts/docker-setup.sh installs it)"
    return None


def _build_env() -> dict[str, str]:
    """Compose variables for the test stack: project name, ports, and (on offline machines
    prepared by scripts/docker-setup.sh) the local base image and the wheelhouse."""
    env = {
        "COMPOSE_PROJECT_NAME": PROJECT,
        "THOTH_MCP_DOOR": "iam",  # MCP's door enforces IAM as deployed
        **{k: str(v) for k, v in PORTS.items()},
    }
    if "THOTH_BASE_IMAGE" not in os.environ:
        have_base = subprocess.run(
            ["docker", "image", "inspect", OFFLINE_BASE_IMAGE], capture_output=True, timeout=30
        )
        if have_base.returncode == 0 and (REPO / "wheelhouse" / ".key").is_file():
            env["THOTH_BASE_IMAGE"] = OFFLINE_BASE_IMAGE
            env.setdefault("THOTH_PIP_INSTALL_FLAGS", "--no-index")
    return env


def _compose(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "compose", "-p", PROJECT, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=check,
    )


def _remove_stale_stacks() -> None:
    """Take down stacks left by interrupted runs (their pytest process is gone)."""
    listing = subprocess.run(
        ["docker", "compose", "ls", "--all", "--format", "json"], capture_output=True, text=True
    )
    for project in json.loads(listing.stdout or "[]"):
        name = str(project.get("Name", ""))
        prefix, _, pid = name.rpartition("-")
        if prefix != "thoth-e2e" or not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        subprocess.run(
            ["docker", "compose", "-p", name, "down", "--volumes", "--remove-orphans"],
            capture_output=True,
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    problem = _docker_problem()
    if problem:
        if os.environ.get("THOTH_REQUIRE_DOCKER") == "1":
            pytest.fail(f"THOTH_REQUIRE_DOCKER=1 but {problem}")
        pytest.skip(problem)
    from testcontainers.compose import DockerCompose

    env_file = tmp_path_factory.mktemp("compose") / "e2e.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in _build_env().items()))
    compose = DockerCompose(
        context=REPO,
        compose_file_name="compose.yaml",
        env_file=str(env_file),
        build=True,
        wait=True,
    )
    _remove_stale_stacks()
    started = time.monotonic()
    try:
        compose.start()
    except subprocess.CalledProcessError as exc:
        ps = _compose("--env-file", str(env_file), "ps", "-a", check=False).stdout
        logs = _compose("--env-file", str(env_file), "logs", "--no-color", check=False).stdout
        logs = "\n".join(line for line in logs.splitlines() if "GET /health" not in line)
        _compose("--env-file", str(env_file), "down", "--volumes", check=False)
        error = (exc.stderr or b"").decode(errors="replace")[-3000:]
        pytest.fail(
            f"`docker compose up` failed ({exc.returncode}):\n{error}\n--- ps ---\n{ps}"
            f"\n--- service logs (health probes left out) ---\n{logs[-12000:]}"
        )
    seed = subprocess.run(
        [
            "docker",
            "inspect",
            f"{PROJECT}-seed-1",
            "--format",
            "{{.State.StartedAt}} {{.State.FinishedAt}}",
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    print(
        f"\ncompose stack built and searchable in {time.monotonic() - started:.0f} s"
        f" (seed ingest ran {' -> '.join(t[11:19] for t in seed)})"
    )
    try:
        yield compose
    finally:
        compose.stop(down=True)  # down --volumes


@cache
def dev_token(audience: str) -> str:
    """The developer's ID token from the stack's metadata server (what `thoth dev token` and,
    in the cloud, `gcloud auth print-identity-token` give); valid for an hour."""
    answer = httpx.get(
        f"{METADATA_URL}/emulator/v1/user-token",
        params={"email": DEV_USER, "audience": audience},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.text.strip()


def iam_headers(audience: str) -> dict[str, str]:
    return {"X-Serverless-Authorization": f"Bearer {dev_token(audience)}"}


@asynccontextmanager
async def mcp_client() -> AsyncIterator[Any]:
    from mcp.client import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    http = create_mcp_http_client(headers=iam_headers(MCP_AUDIENCE))
    async with http, Client(streamable_http_client(MCP_URL, http_client=http)) as client:
        yield client


async def search(query: str, **arguments: Any) -> list[dict[str, Any]]:
    async with mcp_client() as client:
        result = await client.call_tool("search_handbook", {"query": query, **arguments})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return list(result.structured_content["results"])


def test_stack_is_up_with_every_service_healthy(stack: Any) -> None:
    containers = {c.Service: c for c in stack.get_containers(include_all=True)}
    assert set(SERVICES) <= set(containers), containers.keys()
    for name in ONE_SHOTS:
        done = containers[name]
        assert (done.State, done.ExitCode) == ("exited", 0), done
    for name in RUNNING:
        container = containers[name]
        assert (container.State, container.Health) == ("running", "healthy"), container
    # published on loopback only
    for publisher in containers["mcp"].Publishers or []:
        if publisher.PublishedPort:
            assert publisher.URL in ("127.0.0.1", "::1"), publisher


async def test_tools_and_search_over_mcp(stack: Any) -> None:
    async with mcp_client() as client:
        tools = sorted(t.name for t in (await client.list_tools()).tools)
        assert tools == ["get_document", "list_sources", "list_topics", "search_handbook"]
        sources = await client.call_tool("list_sources", {})
        (info,) = sources.structured_content["sources"]
        assert info["source"] == "handbook" and info["documents"] >= 30, info

    results = await search("How many days of paid time off do we get?", num_results=3)
    assert results[0]["path"] == "people/time-off.md", [r["path"] for r in results]
    assert "26 days of paid time off" in results[0]["text"]


def test_doors_refuse_requests_without_a_token(stack: Any) -> None:
    """Cloud Run's 403 from both doors before anything reaches a service; the developer's
    token opens the worker's /v1 API."""
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    accept = {"Accept": "application/json, text/event-stream"}
    with httpx.Client(timeout=30) as http:
        assert http.post(MCP_URL, json=initialize, headers=accept).status_code == 403
        assert http.get(f"{WORKER_URL}/v1/jobs").status_code == 403
        jobs = http.get(f"{WORKER_URL}/v1/jobs", headers=iam_headers(WORKER_AUDIENCE))
    assert jobs.status_code == 200, jobs.text
    assert jobs.json(), "the seed's ingest job is listed"


def test_smoke_script_passes_against_the_stack(stack: Any) -> None:
    """The deploy workflow's canary check, run here against the containers."""
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "smoke.py"),
            MCP_URL,
            "--worker",
            WORKER_URL,
            "--id-token",
            dev_token(MCP_AUDIENCE),
            "--worker-id-token",
            dev_token(WORKER_AUDIENCE),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "top people/time-off.md" in done.stdout, done.stdout
    print(f"\n{done.stdout}")


async def test_changed_file_is_reingested_and_found(stack: Any) -> None:
    marker = f"quokka{int(time.time())}"
    fact = (
        "\n\n## Volunteer days\n\nEvery employee gets **three paid volunteer days** a year; "
        f"book them in Perch with the code `{marker}`.\n"
    )
    # Re-ingest from inside the ingestion container, as an operator would: a copy of the
    # sample handbook with one file changed, uploaded and ingested by `thoth ingest --wait`.
    script = (
        "set -e; rm -rf /tmp/hb; cp -r /app/examples/handbook /tmp/hb; "
        f"printf %s {shlex.quote(fact)} >> /tmp/hb/people/time-off.md; "
        "thoth ingest handbook --from-dir /tmp/hb --wait --timeout 300"
    )
    started = time.monotonic()
    stdout, stderr, code = stack.exec_in_container(["sh", "-c", script], "ingestion")
    assert code == 0, stdout + stderr
    assert "1 changed" in stdout + stderr, stdout + stderr

    deadline = time.monotonic() + 30
    while True:
        results = await search(f"how many volunteer days, code {marker}", num_results=5)
        hits = [r for r in results if marker in r["text"]]
        if hits:
            break
        assert time.monotonic() < deadline, f"change not searchable after 30 s: {results}"
        await asyncio.sleep(1)
    assert hits[0]["path"] == "people/time-off.md"
    assert hits[0]["heading"].endswith("Volunteer days")
    print(f"\nchange ingested and searchable in {time.monotonic() - started:.0f} s")


def test_a_push_to_the_local_gitlab_reaches_the_public_receiver(stack: Any, tmp_path: Path) -> None:
    """The sample source is the local GitLab's project: a push to main fires its webhook at
    the receiver's public door (no ID token), which queues the push for the worker; a forged
    webhook is refused there."""
    forged = httpx.post(
        f"{WEBHOOK_URL}/webhooks/gitlab",
        json={"object_kind": "push"},
        headers={"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "forged"},
        timeout=30,
    )
    assert forged.status_code == 401, forged.text
    remote = GITLAB_URL.replace("http://", "http://oauth2:glpat-thoth-local@")
    git_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "e2e",
               "GIT_AUTHOR_EMAIL": "e2e@thoth.local", "GIT_COMMITTER_NAME": "e2e",
               "GIT_COMMITTER_EMAIL": "e2e@thoth.local"}  # fmt: skip

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=tmp_path, env=git_env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    git("clone", "--quiet", f"{remote}/group/handbook.git", ".")
    (tmp_path / "people" / "time-off.md").open("a").write("\nPushed by the e2e test.\n")
    git("commit", "--quiet", "-am", "e2e push")
    commit = git("rev-parse", "HEAD")
    git("push", "--quiet", "origin", "main")

    deadline = time.monotonic() + 60
    while True:
        found = httpx.get(f"{GITLAB_URL}/-/emulator/deliveries", timeout=10).json()
        answered = [d for d in found if d["request_data"].get("after") == commit]
        if answered and answered[0]["response_status"]:
            break
        assert time.monotonic() < deadline, f"no webhook delivery for {commit}: {found[:1]}"
        time.sleep(0.5)
    assert answered[0]["response_status"] == "202", answered[0]["response_body"]
    assert json.loads(answered[0]["response_body"])["result"] == "enqueued"
