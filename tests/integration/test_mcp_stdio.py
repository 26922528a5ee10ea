"""`thoth mcp --stdio`: the same server over stdin/stdout, driven by the mcp package's client."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from tests.support.snapshots import SAMPLE_DOCS, make_and_publish, real_encoder
from thoth.bucket.store import BlobStore
from thoth.config import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
async def test_stdio_server_with_the_real_model(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    encoder = real_encoder()
    if encoder is None:
        pytest.skip("thoth.embedding is not available")
    make_and_publish(store, tmp_path, SAMPLE_DOCS, version="v0001", encoder=encoder)
    env = {
        **os.environ,
        "THOTH_BUCKET": settings.bucket,
        "STORAGE_EMULATOR_HOST": settings.storage_emulator_host or "",
        "THOTH_CACHE_DIR": str(settings.cache_dir),
        "THOTH_EMBEDDING_MODEL": encoder.name,
        "PYTHONPATH": str(ROOT / "src"),
    }
    code = "from thoth.config import Settings\nfrom thoth.serve.mcp.stdio import run_stdio\n"
    code += "run_stdio(Settings())"
    params = StdioServerParameters(command=sys.executable, args=["-c", code], env=env, cwd=tmp_path)
    async with Client(params, read_timeout_seconds=60) as client:
        assert len((await client.list_tools()).tools) == 4
        result = await client.call_tool("search_handbook", {"query": "vacation", "num_results": 2})
        assert not result.is_error
        assert result.structured_content["results"][0]["path"] == "people/vacation.md"  # type: ignore[index]
