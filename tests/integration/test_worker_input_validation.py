"""What a fuzzer sends the worker's API is refused with a short 422 (403 for a folder off
limits, 404 for an unknown job), never a 500, and nothing it sent is saved. Through the real
app (in process) and the real fake GCS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.tasks import RecordingTasks
from thoth.bucket.keys import source_config_key
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.pipeline.context import Context
from thoth.ingest.worker.app import MAX_BODY_BYTES, create_app
from thoth.ingest.worker.errors import MAX_SHOWN_ERRORS

SURROGATE = "\\ud800"  # a lone surrogate, as a JSON escape: valid JSON, not valid UTF-8


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    (tmp_path / "handbook").mkdir()
    return tmp_path


@pytest.fixture
def ctx(settings: Settings, store: BlobStore, roots: Path) -> Context:
    local = settings.model_copy(update={"source_roots": [str(roots)]})
    return Context(local, store, RecordingTasks())


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    app = create_app(ctx.settings, ctx)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        yield client


def send(client: TestClient, method: str, path: str, body: str) -> dict[str, object]:
    """`body` (raw JSON text) sent as is; the answer must be a 4xx with a JSON `detail`."""
    headers = {"Content-Type": "application/json"}
    answer = client.request(method, path, content=body.encode(), headers=headers)
    assert 400 <= answer.status_code < 500, answer.text
    parsed: dict[str, object] = answer.json()
    assert parsed["detail"]
    return {"status": answer.status_code, **parsed}


def put_source(client: TestClient, name: str, **fields: str) -> dict[str, object]:
    body = json.dumps({"name": name, **fields})
    return send(client, "PUT", f"/v1/sources/{name}", body)


def test_a_lone_surrogate_is_422_and_nothing_is_saved(client: TestClient, ctx: Context) -> None:
    fields = '"name": "fuzz-fake", "kind": "gitlab", "gitlab_project": "a/b"'
    body = f'{{{fields}, "gitlab_ref": "{SURROGATE}"}}'
    answer = send(client, "PUT", "/v1/sources/fuzz-fake", body)
    assert answer["status"] == 422
    assert "UTF-8" in json.dumps(answer["detail"])
    assert not ctx.store.exists(source_config_key("fuzz-fake"))
    assert client.get("/v1/sources").json() == []


@pytest.mark.parametrize(
    "body",
    [
        f'{{"source": "{SURROGATE}"}}',
        f'{{"source": "ok", "{SURROGATE}": 1}}',  # an unknown field named with one
    ],
)
def test_a_surrogate_in_an_echoed_error_is_422(client: TestClient, body: str) -> None:
    assert send(client, "POST", "/v1/ingest", body)["status"] == 422


@pytest.mark.parametrize(
    "directory", ["/srv/a\u0000b", "~nosuchuserxyz/handbook", "/srv/\ud800", "/srv/a\nb"]
)
def test_a_bad_directory_is_422(client: TestClient, ctx: Context, directory: str) -> None:
    body = json.dumps({"name": "d", "kind": "dir", "directory": directory})  # ascii escapes
    assert send(client, "PUT", "/v1/sources/d", body)["status"] == 422
    assert not ctx.store.exists(source_config_key("d"))


def test_a_directory_outside_the_roots_is_still_403(client: TestClient, roots: Path) -> None:
    assert put_source(client, "d", kind="dir", directory="/etc")["status"] == 403
    inside = client.put(
        "/v1/sources/d", json={"name": "d", "kind": "dir", "directory": str(roots / "handbook")}
    )
    assert inside.status_code == 200, inside.text


def test_a_huge_invalid_body_gets_a_short_422(client: TestClient) -> None:
    unknown = ", ".join(f'"f{i}": {i}' for i in range(50_000))
    answer = send(client, "POST", "/v1/ingest", f'{{"source": "ok", {unknown}}}')
    assert answer["status"] == 422
    assert isinstance(answer["detail"], list) and len(answer["detail"]) == MAX_SHOWN_ERRORS
    assert answer["omitted"] == 50_000 - MAX_SHOWN_ERRORS
    assert all(set(error) == {"loc", "msg", "type"} for error in answer["detail"])


def test_a_huge_string_is_not_echoed(client: TestClient) -> None:
    huge = "x" * 900_000  # under the body limit
    for body in (f'{{"source": "{huge}"}}', f'{{"source": "ok", "{huge}": 1}}'):
        headers = {"Content-Type": "application/json"}
        answer = client.post("/v1/ingest", content=body.encode(), headers=headers)
        assert answer.status_code == 422
        assert len(answer.content) < 2_000, answer.text[:500]
    too_long_ref = put_source(client, "g", kind="gitlab", gitlab_project="a/b", gitlab_ref=huge)
    assert too_long_ref["status"] == 422 and len(json.dumps(too_long_ref)) < 2_000


def test_a_body_over_the_limit_is_413_declared_or_chunked(client: TestClient) -> None:
    body = b'{"source": "' + b"x" * MAX_BODY_BYTES + b'"}'
    headers = {"Content-Type": "application/json"}
    declared = client.post("/v1/ingest", content=body, headers=headers)
    chunked = client.post("/v1/ingest", content=iter([body[:1000], body[1000:]]), headers=headers)
    for answer in (declared, chunked):  # Starlette's answer: plain text when declared
        assert answer.status_code == 413 and "Content Too Large" in answer.text
    assert "content-length" not in {k.lower() for k in chunked.request.headers}


def test_an_unknown_job_is_404_without_the_object_key(client: TestClient) -> None:
    answer = client.get("/v1/jobs/00000000t000000-00000000")
    assert answer.status_code == 404
    assert answer.json() == {"detail": "job '00000000t000000-00000000' not found"}


@pytest.mark.parametrize(
    "fields",
    [
        {"base_url": "https://exa mple.com:99999"},
        {"base_url": "https://example.com:99999"},
        {"base_url": "https://example.com:0"},
        {"base_url": "https://example.com:http"},
        {"base_url": "https://exa\nmple.com/"},
        {"base_url": "https://" + "h" * 100_000 + ".com"},
        {"base_url": "https://example.com/" + "p" * 3_000},
        {"base_url": "ftp://example.com"},
        {"gitlab_ref": "@{-1}"},
        {"gitlab_ref": "-rf"},
        {"gitlab_ref": "main.lock/"},
        {"gitlab_ref": "main.lock"},
        {"gitlab_ref": "feature/"},
        {"gitlab_ref": "a//b"},
        {"gitlab_ref": "a/.hidden"},
        {"gitlab_ref": "@"},
        {"gitlab_ref": "main."},
        {"gitlab_ref": "r" * 256},
        {"gitlab_project": "group/" + "p" * 5_000},
        {"gitlab_project": "9" * 400},
        {"gitlab_project": str(2**63)},
        {"path_prefix": "%2e%2e/x"},
        {"path_prefix": "docs/%2E%2e"},
    ],
)
def test_settings_that_cannot_work_are_refused(
    client: TestClient, ctx: Context, fields: dict[str, str]
) -> None:
    config = {"kind": "gitlab", "gitlab_project": "acme/handbook", **fields}
    assert put_source(client, "g", **config)["status"] == 422
    assert not ctx.store.exists(source_config_key("g"))


@pytest.mark.parametrize(
    "fields",
    [
        {"base_url": "https://handbook.example.com:8443/docs"},
        {"base_url": "http://localhost:1313"},
        {"base_url": "http://[::1]:8080"},
        {"base_url": "https://example.com/my handbook"},  # accepted before, so may be stored
        {"gitlab_ref": "release/v1.2"},
        {"gitlab_ref": "refs/heads/main"},
        {"gitlab_ref": "0123456789abcdef0123456789abcdef01234567"},
        {"gitlab_project": str(2**63 - 1)},
        {"gitlab_project": "group/sub.group/my-project"},
        {"path_prefix": "content/100%"},
    ],
)
def test_settings_that_work_are_kept(client: TestClient, fields: dict[str, str]) -> None:
    config = {"name": "g", "kind": "gitlab", "gitlab_project": "acme/handbook", **fields}
    answer = client.put("/v1/sources/g", json=config)
    assert answer.status_code == 200, answer.text
    assert client.get("/v1/sources").json()[0]["name"] == "g"


def test_an_entry_saved_before_the_fix_is_a_short_422(client: TestClient, ctx: Context) -> None:
    stored = {"name": "old", "kind": "gitlab", "gitlab_project": "a/b", "gitlab_ref": "\ud800"}
    ctx.store.write(source_config_key("old"), json.dumps(stored).encode())
    answer = send(client, "POST", "/v1/ingest", '{"source": "old"}')
    assert answer["status"] == 422
    detail = str(answer["detail"])
    assert "'old' is invalid" in detail and "pydantic" not in detail and len(detail) < 400
    assert client.get("/v1/sources").json() == []


def test_a_push_task_with_a_surrogate_is_422(client: TestClient) -> None:
    task = {
        "source": "handbook",
        "commit": "a" * 40,
        "ref": "refs/heads/\ud800",
        "event_uuid": "e-1",
        "pushed_at": "2026-01-01T00:00:00Z",
    }
    answer = send(client, "POST", "/tasks/push", json.dumps(task))
    assert answer["status"] == 422 and "UTF-8" in str(answer["detail"])


def test_removing_a_source_over_the_api(client: TestClient, ctx: Context) -> None:
    assert send(client, "DELETE", "/v1/sources/nope", "")["status"] == 404
    assert send(client, "DELETE", "/v1/sources/UPPER", "")["status"] == 422
    body = {"name": "gone", "kind": "upload"}
    assert client.put("/v1/sources/gone", json=body).status_code == 200
    answer = client.delete("/v1/sources/gone")
    assert answer.status_code == 200, answer.text
    assert answer.json()["registered"] is True
    assert client.get("/v1/sources").json() == []
