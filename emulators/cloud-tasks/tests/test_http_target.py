"""Queue-level http_target: URI, method, header and token overrides applied at dispatch."""

from __future__ import annotations

import jwt
import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from google.protobuf import field_mask_pb2
from tasks_support import Target

SA = "queue-sa@test-project.iam.gserviceaccount.com"
IF_NOT_EXISTS = tasks_v2.UriOverride.UriOverrideEnforceMode.IF_NOT_EXISTS


def _create(client, queue, url: str, **request) -> tasks_v2.Task:
    return client.create_task(parent=queue.name, task={"http_request": {"url": url, **request}})


def test_uri_override_always_replaces_every_part(client, make_queue, target: Target) -> None:
    port = target.server.server_port
    queue = make_queue(
        http_target={
            "uri_override": {
                "scheme": tasks_v2.UriOverride.Scheme.HTTP,
                "host": "127.0.0.1",
                "port": port,
                "path_override": {"path": "/overridden"},
                "query_override": {"query_params": "a=b"},
            }
        }
    )
    assert queue.http_target.uri_override.port == port
    task = _create(client, queue, "https://unreachable.invalid:9/original?q=1")
    (got,) = target.wait_count("/overridden", 1)
    assert got.path == "/overridden?a=b"
    # the stored task keeps its own URL; the override applies when it is dispatched
    assert task.http_request.url == "https://unreachable.invalid:9/original?q=1"


def test_uri_override_if_not_exists_fills_only_missing_parts(client, make_queue, target) -> None:
    queue = make_queue(
        http_target={
            "uri_override": {
                "host": "unreachable.invalid",
                "path_override": {"path": "/fallback"},
                "query_override": {"query_params": "added=1"},
                "uri_override_enforce_mode": IF_NOT_EXISTS,
            }
        }
    )
    _create(client, queue, target.url("/mine"))
    (got,) = target.wait_count("/mine", 1)
    assert got.path == "/mine?added=1"


def test_method_headers_and_token_overrides(client, make_queue, target: Target) -> None:
    queue = make_queue(
        http_target={
            "http_method": tasks_v2.HttpMethod.GET,
            "header_overrides": [{"header": {"key": "X-Team", "value": "queue"}}],
            "oidc_token": {"service_account_email": SA, "audience": "https://aud.example"},
        }
    )
    _create(
        client,
        queue,
        target.url("/over"),
        body=b"dropped for GET",
        headers={"x-team": "task", "X-Other": "kept"},
        oidc_token={"service_account_email": "task-sa@p.iam.gserviceaccount.com"},
    )
    (got,) = target.wait_count("/over", 1)
    assert got.method == "GET" and got.body == b""
    teams = [v for k, v in got.headers.items() if k.lower() == "x-team"]
    assert teams == ["queue"] and got.headers["X-Other"] == "kept"
    claims = jwt.decode(got.headers["Authorization"][7:], options={"verify_signature": False})
    assert claims["email"] == SA and claims["aud"] == "https://aud.example"


def test_update_queue_merges_and_clears_http_target(client, make_queue, target: Target) -> None:
    queue = make_queue(http_target={"header_overrides": [{"header": {"key": "X-A", "value": "1"}}]})
    updated = client.update_queue(
        queue={"name": queue.name, "http_target": {"http_method": tasks_v2.HttpMethod.PUT}},
        update_mask=field_mask_pb2.FieldMask(paths=["http_target.http_method"]),
    )
    assert updated.http_target.http_method == tasks_v2.HttpMethod.PUT
    assert updated.http_target.header_overrides[0].header.key == "X-A"
    _create(client, queue, target.url("/merged"), body=b"x")
    (got,) = target.wait_count("/merged", 1)
    assert got.method == "PUT" and got.headers["X-A"] == "1" and got.body == b"x"
    cleared = client.update_queue(
        queue={"name": queue.name},
        update_mask=field_mask_pb2.FieldMask(paths=["http_target"]),
    )
    assert "http_target" not in cleared


@pytest.mark.parametrize(
    "http_target",
    [
        {"uri_override": {"host": ""}},
        {"uri_override": {"port": -1}},
        {"oidc_token": {"service_account_email": SA}},
        {"oauth_token": {"service_account_email": SA}},
        {"header_overrides": [{"header": {"key": "", "value": "v"}}]},
        {"header_overrides": [{"header": {"key": "X-Big", "value": "v" * 80 * 1024}}]},
    ],
)
def test_invalid_http_target_rejected(client, make_queue, http_target) -> None:
    with pytest.raises(exceptions.InvalidArgument, match="http_target"):
        make_queue(http_target=http_target)
