"""`thoth mcp --stdio`: the same server over stdin/stdout, driven by the mcp package's client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
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


def test_with_storage_down_it_says_so_and_answers_at_once(tmp_path: Path) -> None:
    """A desktop client's log shows why, and the first answer does not wait out the storage
    client's retries (31 s before)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, never listening: refused
        env = {
            **os.environ,
            "THOTH_BUCKET": "thoth-stdio",
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{closed}",
            "THOTH_CACHE_DIR": str(tmp_path / "cache"),
            "PYTHONPATH": str(ROOT / "src"),
        }
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        }
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "thoth.cli.main", "mcp", "--stdio"],
            input=json.dumps(initialize) + "\n",
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        took = time.monotonic() - started

    assert json.loads(done.stdout.splitlines()[0])["result"]["serverInfo"]
    assert f"cannot reach Cloud Storage at http://127.0.0.1:{closed}" in done.stderr
    assert took < 20, f"answered after {took:.1f} s"
