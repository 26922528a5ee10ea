"""Ask the running MCP server a question through the MCP client, as an assistant would."""

from __future__ import annotations

import asyncio
from typing import Any

from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def _search(
    url: str, query: str, num_results: int, headers: dict[str, str] | None
) -> list[dict[str, Any]]:
    http = create_mcp_http_client(headers=headers)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        result = await client.call_tool(
            "search_handbook", {"query": query, "num_results": num_results}
        )
    if result.is_error or not result.structured_content:
        raise RuntimeError(f"search_handbook failed: {result.content}")
    results: list[dict[str, Any]] = result.structured_content["results"]
    return results


def mcp_search(
    url: str, query: str, num_results: int = 3, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    return asyncio.run(_search(url, query, num_results, headers))
