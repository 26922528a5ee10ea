"""The MCP service over real Streamable HTTP: a real uvicorn server on 127.0.0.1, driven by the
`mcp` package's own client, with indexes loaded from the real fake-gcs-server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from tests.support.processes import free_port
from tests.support.snapshots import SAMPLE_DOCS, HashingEncoder, make_and_publish
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.serve import tools
from thoth.serve.loader import IndexCache
from thoth.serve.mcp.app import create_app
from thoth.serve.search import MAX_NUM_RESULTS
from thoth.serve.tools import MAX_DOCUMENT_PAGE_CHARS

JSONRPC_HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
}


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run the app under a real uvicorn server in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@asynccontextmanager
async def mcp_client(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers=headers)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        yield client


@pytest.fixture
def published(store: BlobStore, tmp_path: Path) -> BlobStore:
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    return store


def loaded_app(settings: Settings, store: BlobStore, **changes: Any) -> FastAPI:
    settings = settings.model_copy(update=changes)
    cache = IndexCache(settings, store)
    cache.refresh()
    return create_app(settings, cache, HashingEncoder(), poll=False)


async def test_tools_and_search(settings: Settings, published: BlobStore) -> None:
    with serve(loaded_app(settings, published)) as base:
        async with mcp_client(f"{base}/mcp") as client:
            tools = (await client.list_tools()).tools
            assert sorted(t.name for t in tools) == [
                "get_document",
                "list_sources",
                "list_topics",
                "search_handbook",
            ]
            for tool in tools:
                assert tool.output_schema and tool.output_schema["type"] == "object"
                assert tool.annotations and tool.annotations.read_only_hint is True
                assert tool.description and len(tool.description) > 60

            result = await client.call_tool(
                "search_handbook", {"query": "how many vacation days do I get", "num_results": 3}
            )
            assert not result.is_error
            body = result.structured_content
            assert body is not None and body["index_version"] == "handbook@v0001"
            top = body["results"][0]
            assert top["path"] == "people/vacation.md"
            assert top["url"] == "https://handbook.example.com/people/vacation.md"
            assert {"title", "heading", "score", "text", "chunk_id", "source"} <= set(top)

            filtered = await client.call_tool(
                "search_handbook", {"query": "laptop", "path_prefix": "engineering/"}
            )
            paths = {r["path"] for r in filtered.structured_content["results"]}  # type: ignore[index]
            assert paths and all(p.startswith("engineering/") for p in paths)

            doc = await client.call_tool("get_document", {"path": "security/laptops.md"})
            assert doc.structured_content["title"] == "Laptop security"  # type: ignore[index]

            sources = await client.call_tool("list_sources", {})
            (info,) = sources.structured_content["sources"]  # type: ignore[index]
            assert (info["source"], info["documents"], info["index_version"]) == (
                "handbook",
                5,
                "v0001",
            )
            topics = await client.call_tool("list_topics", {})
            assert {"path": "people/", "documents": 2} in topics.structured_content["topics"]  # type: ignore[index]
            folder = await client.call_tool("list_topics", {"prefix": "people/"})
            files = folder.structured_content["files"]  # type: ignore[index]
            assert {"path": "people/vacation.md", "title": "Vacation policy"}.items() <= files[
                -1
            ].items()

            resource = await client.read_resource("thoth://handbook/people/vacation.md")
            assert "25 days" in resource.contents[0].text  # type: ignore[union-attr]


async def test_resources_list_pages_through_every_document_and_each_uri_reads_back(
    settings: Settings, store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clients browse resources with resources/list (not the template): every document is
    there, page by page, and a path that needs escaping reads back."""
    odd = "people/q&a #2 (draft) 100%.md"
    docs = {**SAMPLE_DOCS, odd: "# Questions\n\nAnswers to questions people ask."}
    make_and_publish(store, tmp_path, docs, version="v0001")
    monkeypatch.setattr(tools, "RESOURCES_PAGE", 4)
    with serve(loaded_app(settings, store)) as base:
        async with mcp_client(f"{base}/mcp") as client:
            first = await client.list_resources()
            assert first.next_cursor is not None and len(first.resources) == 4
            second = await client.list_resources(cursor=first.next_cursor)
            assert second.next_cursor is None
            listed = first.resources + second.resources
            (entry,) = [r for r in listed if r.name == odd]
            page = await client.read_resource(str(entry.uri))
            with pytest.raises(MCPError) as bad_cursor:
                await client.list_resources(cursor="not-a-cursor")
    assert sorted(r.name for r in listed) == sorted(docs)
    vacation = next(r for r in listed if r.name == "people/vacation.md")
    assert (str(vacation.uri), vacation.title, vacation.mime_type) == (
        "thoth://handbook/people/vacation.md",
        "Vacation policy",
        "text/markdown",
    )
    assert "Answers to questions" in page.contents[0].text  # type: ignore[union-attr]
    assert bad_cursor.value.code == INVALID_PARAMS and "cursor" in bad_cursor.value.message


async def test_a_resource_uri_no_document_can_have_is_invalid_params(
    settings: Settings, published: BlobStore
) -> None:
    with serve(loaded_app(settings, published)) as base:
        async with mcp_client(f"{base}/mcp") as client:
            with pytest.raises(MCPError) as refused:
                await client.read_resource("thoth://handbook/" + "a" * 5000)
            with pytest.raises(MCPError) as missing:
                await client.read_resource("thoth://handbook/people/nope.md")
    assert refused.value.code == INVALID_PARAMS and "5,000 characters long" in refused.value.message
    assert missing.value.code == INVALID_PARAMS  # the SDK's code for a resource not found


async def test_a_long_document_resource_says_where_to_read_on(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    """A resource holds the first MAX_DOCUMENT_PAGE_CHARS characters, then names the
    get_document call that reads on (whole, it could pass Cloud Run's response limit)."""
    long_text = "# Long\n\n" + "\n\n".join(["word " * 800] * 300)  # ~1.2 M characters
    make_and_publish(store, tmp_path, {**SAMPLE_DOCS, "long.md": long_text}, version="v0001")
    with serve(loaded_app(settings, store)) as base:
        async with mcp_client(f"{base}/mcp") as client:
            resource = await client.read_resource("thoth://handbook/long.md")
    text = resource.contents[0].text  # type: ignore[union-attr]
    head, _, note = text.rpartition("\n\n[")
    assert long_text.startswith(head) and len(head) <= MAX_DOCUMENT_PAGE_CHARS
    assert f"{len(long_text) - len(head):,} more characters" in note
    assert f'get_document(path="long.md", source="handbook", offset={len(head)})' in note


async def test_search_with_sections(settings: Settings, published: BlobStore) -> None:
    with serve(loaded_app(settings, published)) as base:
        async with mcp_client(f"{base}/mcp") as client:
            (tool,) = [t for t in (await client.list_tools()).tools if t.name == "search_handbook"]
            assert tool.input_schema["properties"]["context"]["enum"] == ["chunk", "section"]
            limits = tool.input_schema["properties"]["num_results"]  # clients see the bounds
            assert (limits["minimum"], limits["maximum"]) == (1, MAX_NUM_RESULTS)
            result_schema = tool.output_schema["$defs"]["SearchResult"]  # type: ignore[index]
            assert "section" in result_schema["properties"]
            assert "section" in (tool.description or "")

            result = await client.call_tool(
                "search_handbook",
                {"query": "vacation days", "num_results": 5, "context": "section"},
            )
            assert not result.is_error
            results = result.structured_content["results"]  # type: ignore[index]
            paths = [r["path"] for r in results]
            assert paths[0] == "people/vacation.md" and len(paths) == len(set(paths))
            assert results[0]["section"] == (
                "Everyone gets 25 days of paid vacation a year.\n\n"
                "Ask your manager before booking leave longer than two weeks."
            )
            plain = await client.call_tool("search_handbook", {"query": "vacation days"})
            assert all(r["section"] is None for r in plain.structured_content["results"])  # type: ignore[index]

            bad = await client.call_tool("search_handbook", {"query": "x", "context": "page"})
            assert bad.is_error and "context" in bad.content[0].text  # type: ignore[union-attr]

            assert tool.input_schema["properties"]["rerank"]["type"] == "boolean"
            assert "cross-encoder" in (tool.description or "")
            reranked = await client.call_tool(
                "search_handbook", {"query": "vacation days", "rerank": True}
            )
            assert not reranked.is_error
            assert reranked.structured_content["results"][0]["path"] == "people/vacation.md"  # type: ignore[index]
            bad = await client.call_tool("search_handbook", {"query": "x", "rerank": "maybe"})
            assert bad.is_error


async def test_bad_input_is_a_tool_error(settings: Settings, published: BlobStore) -> None:
    with serve(loaded_app(settings, published)) as base:
        async with mcp_client(f"{base}/mcp") as client:
            missing = await client.call_tool("get_document", {"path": "people/vacations.md"})
            assert missing.is_error
            assert "people/vacation.md" in missing.content[0].text  # type: ignore[union-attr]
            cases: list[tuple[dict[str, Any], str]] = [
                ({"query": "  "}, "empty"),
                ({"query": "x", "num_results": 99}, "num_results"),
                ({"query": "x", "source": "wiki"}, "handbook"),
                ({"query": "x", "path_prefix": "nope/"}, "top-level folders"),
                ({"num_results": 3}, "query"),
                ({"query": "x", "num_results": "many"}, "num_results"),
            ]
            for arguments, expected in cases:
                result = await client.call_tool("search_handbook", arguments)
                assert result.is_error, arguments
                assert expected in result.content[0].text, (arguments, result.content)  # type: ignore[union-attr]
            # the server is still fine afterwards
            ok = await client.call_tool("search_handbook", {"query": "deploy"})
            assert not ok.is_error


async def test_bearer_tokens(settings: Settings, published: BlobStore) -> None:
    app = loaded_app(settings, published, mcp_tokens=["first-token", "second-token"])
    with serve(app) as base:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{base}/health")).status_code == 200
            assert (await http.get(f"{base}/ready")).status_code == 200
            denied = await http.post(f"{base}/mcp", json={}, headers=JSONRPC_HEADERS)
            assert denied.status_code == 401
            assert denied.headers["www-authenticate"].startswith("Bearer")
            wrong = await http.post(
                f"{base}/mcp", json={}, headers={**JSONRPC_HEADERS, "authorization": "Bearer no"}
            )
            assert wrong.status_code == 401 and "invalid_token" in wrong.headers["www-authenticate"]
            assert "no" not in wrong.text.replace("not", "")
        for token in ("first-token", "second-token"):
            async with mcp_client(f"{base}/mcp", {"Authorization": f"Bearer {token}"}) as client:
                assert len((await client.list_tools()).tools) == 4
        with pytest.raises(Exception):  # noqa: B017 - the client surfaces the 401
            async with mcp_client(f"{base}/mcp") as client:
                await client.list_tools()


async def test_host_check(settings: Settings, published: BlobStore) -> None:
    app = loaded_app(settings, published, allowed_hosts=["127.0.0.1:*", "thoth-mcp-abc.a.run.app"])
    init = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    with serve(app) as base:
        async with httpx.AsyncClient() as http:
            evil = await http.post(
                f"{base}/mcp", json=init, headers={**JSONRPC_HEADERS, "host": "evil.example"}
            )
            assert evil.status_code == 421
            # Every method checks Host and Origin before anything else, not only POST.
            foreign = {"origin": "http://evil.example"}
            for method in ("POST", "GET", "DELETE"):
                answer = await http.request(
                    method, f"{base}/mcp", json=init, headers={**JSONRPC_HEADERS, **foreign}
                )
                assert answer.status_code == 403, method
            assert (
                await http.get(f"{base}/mcp", headers={"host": "evil.example"})
            ).status_code == 421
            assert (await http.get(f"{base}/mcp")).status_code == 405
        # the Cloud Run hostname is accepted
        headers = {"host": "thoth-mcp-abc.a.run.app"}
        async with mcp_client(f"{base}/mcp", headers) as client:
            assert len((await client.list_tools()).tools) == 4


async def test_protocol_errors_are_4xx(settings: Settings, published: BlobStore) -> None:
    with serve(loaded_app(settings, published)) as base:
        async with httpx.AsyncClient() as http:
            url = f"{base}/mcp"
            malformed = await http.post(url, content=b"{not json", headers=JSONRPC_HEADERS)
            assert 400 <= malformed.status_code < 500, malformed.text
            wrong_type = await http.post(
                url,
                content=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
                headers={**JSONRPC_HEADERS, "content-type": "text/plain"},
            )
            assert 400 <= wrong_type.status_code < 500
            not_rpc = await http.post(url, json={"hello": "world"}, headers=JSONRPC_HEADERS)
            assert 400 <= not_rpc.status_code < 500, not_rpc.text
            batch = await http.post(url, json=[1, 2], headers=JSONRPC_HEADERS)
            assert 400 <= batch.status_code < 500, batch.text
            # stateless: no standalone SSE stream to hang on
            stream = await http.get(url, headers={"accept": "text/event-stream"}, timeout=5)
            assert stream.status_code == 405
            # One answer, one Allow, whatever the method.
            for method in ("DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "TRACE"):
                other = await http.request(method, url, headers=JSONRPC_HEADERS, timeout=5)
                assert (other.status_code, other.headers.get("allow")) == (405, "POST"), method
            assert (await http.get(f"{base}/health")).status_code == 200


async def test_an_unknown_tool_is_a_protocol_error(
    settings: Settings, published: BlobStore
) -> None:
    """-32602, as the spec has it since 2025-11-25, not a failed call of a tool that is not."""
    call = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "delete_handbook", "arguments": {}},
    }
    with serve(loaded_app(settings, published)) as base:
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"{base}/mcp", json=call, headers=JSONRPC_HEADERS)
    error = answer.json()["error"]
    assert error["code"] == -32602 and "search_handbook" in error["message"]


async def test_ready_reports_why(settings: Settings, store: BlobStore, tmp_path: Path) -> None:
    cache = IndexCache(settings, store)
    app = create_app(settings, cache, HashingEncoder(), poll=False)
    with serve(app) as base:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{base}/health")).status_code == 200
            not_ready = await http.get(f"{base}/ready")
            assert not_ready.status_code == 503
            assert "no index loaded" in not_ready.json()["reasons"][0]
            make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
            cache.refresh()
            ready = await http.get(f"{base}/ready")
            assert ready.status_code == 200
            assert ready.json()["sources"][0]["version"] == "v0001"


async def test_background_poller_swaps_versions(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"index_poll_seconds": 0.2})
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001")
    app = create_app(settings, IndexCache(settings, store), HashingEncoder())
    with serve(app) as base:
        async with httpx.AsyncClient() as http:
            await _wait_for_version(http, base, "v0001")
            make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0002")
            await _wait_for_version(http, base, "v0002")
        async with mcp_client(f"{base}/mcp") as client:
            result = await client.call_tool("search_handbook", {"query": "deploy"})
            assert result.structured_content["index_version"] == "handbook@v0002"  # type: ignore[index]


async def _wait_for_version(http: httpx.AsyncClient, base: str, version: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ready = await http.get(f"{base}/ready")
        if ready.status_code == 200 and ready.json()["sources"][0]["version"] == version:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{version} not served: {ready.json()}")


async def test_one_json_log_line_per_request(
    settings: Settings, published: BlobStore, caplog: pytest.LogCaptureFixture
) -> None:
    import io
    import json
    import logging

    from thoth.logs import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("proj"))
    request_log = logging.getLogger("thoth.serve.mcp.requests")
    request_log.addHandler(handler)
    caplog.set_level(logging.INFO)
    try:
        with serve(loaded_app(settings, published)) as base:
            async with httpx.AsyncClient() as http:
                response = await http.post(
                    f"{base}/mcp",
                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                    headers={
                        **JSONRPC_HEADERS,
                        "mcp-protocol-version": "2025-11-25",
                        "x-cloud-trace-context": "abc123/1;o=1",
                    },
                )
                assert response.status_code == 200
                assert (await http.get(f"{base}/health")).status_code == 200  # not logged
    finally:
        request_log.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["severity"] == "INFO" and entry["message"] == "POST /mcp 200"
    assert entry["status"] == 200 and entry["latency_ms"] >= 0
    assert entry["logging.googleapis.com/trace"] == "projects/proj/traces/abc123"
    assert not [r for r in caplog.records if "Terminating session" in r.getMessage()]


async def test_ready_shows_sources_only_to_token_holders(
    settings: Settings, published: BlobStore
) -> None:
    """With app tokens configured, /ready still answers probes, but names sources and
    versions only to a caller with a token (issue 12, item 7)."""
    app = loaded_app(settings, published, mcp_tokens=["the-token"])
    with serve(app) as base:
        async with httpx.AsyncClient(timeout=30) as http:
            anonymous = await http.get(f"{base}/ready")
            holder = await http.get(f"{base}/ready", headers={"Authorization": "Bearer the-token"})
    assert anonymous.status_code == holder.status_code == 200
    assert anonymous.json() == {"status": "ready"}
    assert holder.json()["sources"][0]["source"] == "handbook"


async def test_search_reports_its_stages_in_server_timing(
    settings: Settings, published: BlobStore
) -> None:
    from thoth.serve.search.stages import parse_server_timing

    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "search_handbook", "arguments": {"query": "parental leave"}},
    }
    headers = {**JSONRPC_HEADERS, "mcp-protocol-version": "2025-11-25"}
    with serve(loaded_app(settings, published)) as base:
        async with httpx.AsyncClient() as http:
            searched = await http.post(f"{base}/mcp", json=call, headers=headers)
            listed = await http.post(
                f"{base}/mcp",
                json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
                headers=headers,
            )
    assert searched.status_code == 200, searched.text
    stages = parse_server_timing(searched.headers["server-timing"])
    # full text runs on another thread beside the query embedding: its place in the order varies
    inner = {"encode", "dense", "fulltext", "fusion", "results"}
    assert set(stages) == inner | {"search", "output"}
    assert stages["search"] >= max(stages[name] for name in inner)
    assert all(ms >= 0 for ms in stages.values())
    assert "server-timing" not in listed.headers  # nothing searched, nothing to report
