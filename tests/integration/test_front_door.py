"""Both services behind the Cloud Run front-door emulator, configured from the Terraform that
deploys them: the three defects a review found in what Cloud Run puts in front of the
containers, each reproduced here (issue 11).

1. Cloud Run forwards the caller's ID token with its signature removed: task deliveries must
   be accepted by their claims, so an ingest finishes.
2. A client of a private MCP service with app bearer tokens sends its ID token in
   `X-Serverless-Authorization` and the app token in `Authorization`.
3. With `cpu_idle`, the first search after a cold start succeeds: the startup probe holds
   traffic until the model and the first index are loaded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from thoth_devstack import front_door
from thoth_devstack.front_door import DoorService

from tests.integration.test_mcp_http import mcp_client
from tests.support.corpus import write_corpus
from tests.support.pipeline import wait_for_job
from tests.support.processes import free_port
from tests.support.snapshots import SAMPLE_DOCS, make_and_publish, real_encoder
from tests.support.stack import CALLER, Emulator, cloud_tasks_emulator, door_settings
from thoth.auth import GCLOUD_CLIENT_ID
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.jobs import JobStatus
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.start import start_job
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import save_source
from thoth.ingest.sources.sync import upload_directory
from thoth.ingest.tasks import TaskQueue
from thoth.serve.tools import MAX_DOCUMENT_PAGE_CHARS

pytestmark = pytest.mark.slow
APP_TOKEN = "app-token-for-tests"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with cloud_tasks_emulator(log=tmp_path_factory.mktemp("logs") / "tasks.log") as running:
        yield running


def base_settings(gcs_url: str, emulator: Emulator, cache: Path, door_port: int) -> Settings:
    return Settings(
        project="thoth-test",
        location="us-central1",
        queue="ingest",
        bucket=f"t-{uuid.uuid4().hex[:12]}",
        storage_emulator_host=gcs_url,
        cloud_tasks_emulator_host=emulator.grpc_address,
        worker_url=f"http://127.0.0.1:{door_port}",
        oidc_issuer=emulator.http_url,
        oidc_jwks_url=emulator.jwks_url,
        auth="iam",
        worker_callers=[CALLER],
        cache_dir=cache,
        batch_files=4,
    )


# --- 1. task deliveries behind IAM ---------------------------------------------------------
@pytest.fixture(scope="module")
def worker(
    gcs_url: str, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, int]]:
    port = free_port()
    settings = base_settings(gcs_url, emulator, tmp_path_factory.mktemp("worker-cache"), port)
    TaskQueue(settings).ensure_queue()
    BlobStore.from_settings(settings).ensure_bucket()
    door = DoorService(
        name="thoth-worker",
        terraform=front_door.TERRAFORM / "ingestion" / "main.tf",
        port=port,
        command=[sys.executable, "-m", "thoth.cli.main", "worker"],
        env=front_door.container_env(door_settings(settings), {"THOTH_HOST": "127.0.0.1"}),
        issuers=[emulator.http_url],
        members=front_door.worker_members(settings, [CALLER]),
    )
    with front_door.running([door], tmp_path_factory.mktemp("door")):
        yield settings, port


def test_task_deliveries_through_iam_finish_an_ingest(
    worker: tuple[Settings, int], tmp_path: Path
) -> None:
    settings, port = worker
    ctx = Context.from_settings(settings.model_copy(update={"cache_dir": tmp_path / "cache"}))
    source = f"s-{uuid.uuid4().hex[:8]}"
    save_source(ctx.store, SourceConfig(name=source, kind="upload"))
    upload_directory(ctx.store, source, write_corpus(tmp_path / "corpus"))
    done = wait_for_job(ctx, start_job(ctx, source).job_id, timeout=240)
    assert done.job.status == JobStatus.succeeded, done.job.error
    # Batches arrive together and the worker takes one request at a time, so the door ran
    # a second worker instance beside the first (each with a cache of its own), as Cloud
    # Run scales out, and the job still ended complete.
    assert done.job.batch_count >= 2
    health = front_door.door_health(port)
    assert health["starts"] >= 2 and len(health["instances"]) == 2


def test_worker_api_through_iam_checks_the_caller(
    worker: tuple[Settings, int], emulator: Emulator
) -> None:
    settings, port = worker
    url = f"http://127.0.0.1:{port}/v1/jobs"
    assert httpx.get(url, timeout=30).status_code == 403  # Cloud Run: no token, no entry
    # An invoker that the app does not list: IAM lets the tasks identity in, the app does not.
    tasks = emulator.caller_headers(settings, settings.tasks_service_account)
    assert httpx.get(url, headers=tasks, timeout=30).status_code == 403
    assert httpx.get(url, headers=emulator.caller_headers(settings), timeout=30).status_code == 200


def test_a_users_gcloud_token_reaches_the_worker_api_but_not_its_tasks(
    worker: tuple[Settings, int], emulator: Emulator
) -> None:
    """The operator steps (docs/deployment.md) call /v1 with `gcloud auth print-identity-token`,
    which gives a user a token for gcloud's own client; Cloud Run lets it in, and the app
    refused it ("token for another audience") until it accepted that audience for its API."""
    settings, port = worker
    user = {"Authorization": f"Bearer {emulator.id_token(CALLER, GCLOUD_CLIENT_ID)}"}
    answer = httpx.get(f"http://127.0.0.1:{port}/v1/jobs", headers=user, timeout=30)
    assert answer.status_code == 200, answer.text
    # Cloud Tasks' tokens name the worker: a gcloud token of the tasks identity is no task.
    tasks = emulator.id_token(settings.tasks_service_account, GCLOUD_CLIENT_ID)
    refused = httpx.post(
        f"http://127.0.0.1:{port}/tasks/plan",
        headers={"Authorization": f"Bearer {tasks}"},
        json={},
        timeout=30,
    )
    assert refused.status_code == 401, refused.text


def test_the_service_url_with_a_trailing_slash_is_the_same_audience(
    worker: tuple[Settings, int], emulator: Emulator
) -> None:
    """Google's service-to-service sample asks for "https://SERVICE.run.app/": Cloud Run lets
    that token in, and the app refused it as "another audience" before."""
    settings, port = worker
    audience = settings.worker_audience.rstrip("/") + "/"
    caller = {"Authorization": f"Bearer {emulator.id_token(CALLER, audience)}"}
    answer = httpx.get(f"http://127.0.0.1:{port}/v1/jobs", headers=caller, timeout=30)
    assert answer.status_code == 200, answer.text
    # Another service's URL is still another audience.
    other = {"Authorization": f"Bearer {emulator.id_token(CALLER, audience + 'x')}"}
    assert httpx.get(f"http://127.0.0.1:{port}/v1/jobs", headers=other, timeout=30).status_code in (
        401,
        403,
    )


def test_a_token_that_skipped_the_front_door_is_refused(
    worker: tuple[Settings, int], emulator: Emulator
) -> None:
    settings, port = worker
    health = front_door.door_health(port)
    signed = emulator.caller_headers(settings)  # valid signature, but IAM never saw it
    os.killpg(os.getpgid(health["pid"]), signal.SIGSTOP)  # as the door leaves it when idle
    answer = _around_the_door(health, "/v1/jobs", signed)
    assert answer.status_code == 401
    assert "eyJ" not in answer.text


def _around_the_door(health: dict[str, Any], path: str, headers: dict[str, str]) -> httpx.Response:
    """A request straight to the container's private port. With cpu_idle the door keeps the
    container stopped (SIGSTOP) between its own requests, and such a request then hangs
    until the next one passes the door (a CI run timed out so): continue the container, and
    ask again if a probe's end stopped it meanwhile."""
    url = f"http://127.0.0.1:{health['container_port']}{path}"
    for _ in range(10):
        os.killpg(os.getpgid(health["pid"]), signal.SIGCONT)
        try:
            return httpx.get(url, headers=headers, timeout=3)
        except httpx.TimeoutException:
            continue
    raise AssertionError(f"{url} did not answer in 10 tries")


# --- 2 and 3. the MCP server behind IAM, with cpu_idle -----------------------------------
@pytest.fixture(scope="module")
def mcp(
    gcs_url: str, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, int]]:
    encoder = real_encoder()
    if encoder is None:
        pytest.fail("the bundled model is missing: run `make install`")
    port = free_port()
    settings = base_settings(gcs_url, emulator, tmp_path_factory.mktemp("mcp-cache"), port)
    settings = settings.model_copy(update={"mcp_tokens": [APP_TOKEN], "index_poll_seconds": 2})
    store = BlobStore.from_settings(settings)
    store.ensure_bucket()
    docs = {**SAMPLE_DOCS, **filler_pages(FILLER_PAGES), LONG_PATH: LONG_TEXT}
    make_and_publish(store, tmp_path_factory.mktemp("snap"), docs, encoder=FillerEncoder(encoder))
    door = DoorService(
        name="thoth-mcp",
        terraform=front_door.TERRAFORM / "mcp" / "main.tf",
        port=port,
        command=[sys.executable, "-m", "thoth.serve.mcp"],
        env=front_door.container_env(settings, {"THOTH_HOST": "127.0.0.1"}),
        issuers=[emulator.http_url],
        members=front_door.mcp_members([CALLER]),
        # The deployed probe (every 5 s) outlasts this small index's loading; a 0.5 s period
        # gives the same race a large index has with the deployed one.
        extra={
            "idle_seconds": 3,
            "start_on_boot": False,
            "forwarded_proto": "https",  # as Cloud Run's front end says it
            # Terraform keeps the MCP server's CPU on now (the index poller needs it), but
            # the startup probe must also hold under cpu_idle, the harder case: test that.
            "overrides": {
                "cpu_idle": True,
                "startup_probe": {"period_seconds": 0.5, "failure_threshold": 240},
            },
        },
    )
    with front_door.running([door], tmp_path_factory.mktemp("door"), ready=False):
        yield settings, port


FILLER_PAGES = 2000  # x 10 paragraphs: a 20,000-chunk index takes seconds to load
# A document whose text JSON escapes into 6 bytes a character (2 in the structured output,
# 4 in the text content that repeats it): whole, its get_document answer would pass 32 MiB,
# Cloud Run's limit for a response of known length. 4,000-character paragraphs, as chunks are.
LONG_PATH = "filler/escapes.md"
LONG_TEXT = "# Filler escapes\n\n" + "\n\n".join(['"\\' * 2000] * 1625)


def filler_pages(count: int) -> dict[str, str]:
    body = "\n\n".join(f"Filler paragraph {i} about nothing in particular." for i in range(10))
    return {f"filler/page-{n:05d}.md": f"# Filler {n}\n\n{body}" for n in range(count)}


class FillerEncoder:
    """The real model for the handbook pages, random unit vectors for filler (embedding
    20,000 filler chunks for real would take minutes and prove nothing more)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.name, self.dimensions = real.name, real.dimensions
        self.random = np.random.default_rng(7)

    def encode(self, texts: list[str]) -> np.ndarray[Any, Any]:
        if not texts[0].startswith("Filler"):
            return self.real.encode(texts)  # type: ignore[no-any-return]
        vectors = self.random.standard_normal((len(texts), self.dimensions)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)  # type: ignore[no-any-return]

    def encode_query(self, text: str) -> np.ndarray[Any, Any]:
        return self.real.encode_query(text)  # type: ignore[no-any-return]


def id_token(emulator: Emulator, port: int) -> str:
    return emulator.id_token(CALLER, f"http://127.0.0.1:{port}")


async def search(url: str, headers: dict[str, str]) -> dict[str, Any]:
    async with mcp_client(url, headers) as client:
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} >= {"search_handbook", "get_document"}
        result = await client.call_tool(
            "search_handbook", {"query": "how many vacation days do I get?"}
        )
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_first_search_after_a_cold_start_succeeds(
    mcp: tuple[Settings, int], emulator: Emulator
) -> None:
    _, port = mcp
    assert front_door.door_health(port)["state"] == "down"  # scaled to zero: cold start next
    headers = {
        "X-Serverless-Authorization": f"Bearer {id_token(emulator, port)}",
        "Authorization": f"Bearer {APP_TOKEN}",
        "Accept": "application/json, text/event-stream",
    }
    async with httpx.AsyncClient(timeout=120) as http:
        # A cheap request cold-starts the instance; between requests its CPU is frozen, so
        # loading that did not finish before traffic was let in stalls until the search.
        await http.get(f"http://127.0.0.1:{port}/health", headers=headers)
    await asyncio.sleep(3)
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "search_handbook", "arguments": {"query": "vacation days"}},
    }
    async with httpx.AsyncClient(timeout=120) as http:
        answer = await http.post(f"http://127.0.0.1:{port}/mcp", json=call, headers=headers)
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert not result.get("isError"), result["content"]
    assert result["structuredContent"]["results"][0]["path"] == "people/vacation.md"


async def test_id_token_and_app_token_travel_in_two_headers(
    mcp: tuple[Settings, int], emulator: Emulator
) -> None:
    _, port = mcp
    url = f"http://127.0.0.1:{port}/mcp"
    both = {
        "X-Serverless-Authorization": f"Bearer {id_token(emulator, port)}",
        "Authorization": f"Bearer {APP_TOKEN}",
    }
    assert (await search(url, both))["results"]
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream"}
    only_id = {"Authorization": f"Bearer {id_token(emulator, port)}", **accept}
    async with httpx.AsyncClient(timeout=60) as http:
        answer = await http.post(url, json=body, headers=only_id)
        assert answer.status_code == 401
        assert "X-Serverless-Authorization" in answer.json()["message"]
        no_app_token = {"X-Serverless-Authorization": only_id["Authorization"], **accept}
        assert (await http.post(url, json=body, headers=no_app_token)).status_code == 401


async def test_a_long_document_is_read_in_pages_under_cloud_runs_response_limit(
    mcp: tuple[Settings, int], emulator: Emulator
) -> None:
    _, port = mcp
    both = {
        "X-Serverless-Authorization": f"Bearer {id_token(emulator, port)}",
        "Authorization": f"Bearer {APP_TOKEN}",
    }
    pages: list[str] = []
    offset: int | None = 0
    async with mcp_client(f"http://127.0.0.1:{port}/mcp", both) as client:
        while offset is not None:
            arguments = {"path": LONG_PATH, "offset": offset, "max_chars": MAX_DOCUMENT_PAGE_CHARS}
            answer = await client.call_tool("get_document", arguments)
            assert not answer.is_error, answer.content
            page = answer.structured_content
            assert page is not None and page["offset"] == offset
            assert page["total_chars"] == len(LONG_TEXT)
            pages.append(page["text"])
            offset = page["next_offset"]
        whole = {"path": LONG_PATH, "max_chars": len(LONG_TEXT)}
        refused = await client.call_tool("get_document", whole)
    assert "".join(pages) == LONG_TEXT and len(pages) == 7
    assert refused.is_error and "max_chars" in str(refused.content)  # the schema's bound


async def test_a_redirect_keeps_the_scheme_clients_use_on_cloud_run(
    mcp: tuple[Settings, int], emulator: Emulator
) -> None:
    """`/mcp/` redirects to `/mcp`. Behind Cloud Run the client speaks https, the front end
    says so in X-Forwarded-Proto, and it is not the container's loopback: a server trusting
    proxy headers from 127.0.0.1 only (uvicorn's default) sent clients to `http://`, which
    they refuse to follow (or follow, losing their tokens). Terraform now tells uvicorn to
    trust the front end (THOTH_FORWARDED_ALLOW_IPS)."""
    _, port = mcp
    headers = {
        "X-Serverless-Authorization": f"Bearer {id_token(emulator, port)}",
        "Authorization": f"Bearer {APP_TOKEN}",
        "Accept": "application/json, text/event-stream",
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    async with httpx.AsyncClient(timeout=120) as http:
        answer = await http.post(f"http://127.0.0.1:{port}/mcp/", json=body, headers=headers)
    assert answer.status_code == 307
    assert answer.headers["location"] == f"https://127.0.0.1:{port}/mcp"
