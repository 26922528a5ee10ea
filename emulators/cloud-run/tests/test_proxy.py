"""What the front door does to requests and responses on the way through."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from crun_support import USER, wait_for

from cloud_run_emulator.front_end import front_end_address


def _auth(issuer, door) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(USER, door.url)}"}


def test_container_env_and_forwarded_headers(front_door):
    door = front_door(invokers=("allUsers",))
    seen = httpx.get(door.url + "/echo", headers={"X-Forwarded-For": "203.0.113.9"}).json()
    assert seen["env"]["K_SERVICE"] == "svc" and seen["env"]["K_CONFIGURATION"] == "svc"
    assert seen["env"]["K_REVISION"] == "svc-00001-local"
    assert seen["env"]["PORT"] == str(door.status()["container_port"])
    assert seen["env"]["PORT"] != str(door.port)
    headers = seen["headers"]
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["host"] == f"127.0.0.1:{door.port}"


@pytest.mark.skipif(front_end_address() is None, reason="127.0.0.2 cannot be bound here")
def test_the_container_sees_the_front_end_from_another_address(front_door):
    """Cloud Run's front end is not the container's loopback address: a server trusting proxy
    headers only from 127.0.0.1 (uvicorn's default) ignores its `X-Forwarded-Proto: https`
    and sees `http`; one told to trust the front end sees `https` and the real client."""
    door = front_door(invokers=("allUsers",), forwarded_proto="https")
    seen = httpx.get(door.url + "/echo").json()
    assert seen["headers"]["x-forwarded-proto"] == "https"
    assert (seen["client_host"], seen["scheme"]) == ("127.0.0.2", "http")
    trusting = front_door(
        invokers=("allUsers",), forwarded_proto="https", env={"FORWARDED_ALLOW_IPS": "*"}
    )
    seen = httpx.get(trusting.url + "/echo").json()
    assert (seen["client_host"], seen["scheme"]) == ("127.0.0.1", "https")


DOOR_ENV: dict[str, str | None] = {
    "DECLARED_LITERAL": "from-the-door",
    "DECLARED_VARIABLE": "from-the-door",
    "UNDECLARED_SETTING": "set-locally-only",
    "LOCAL_ENDPOINT_HOST": "127.0.0.1:9",
}


def test_the_container_gets_only_what_terraform_declares(front_door):
    door = front_door(
        invokers=("allUsers",),
        door_env=DOOR_ENV,
        env={"TOML_SETTING": "from-toml"},
        inherit=["LOCAL_ENDPOINT_*", "DECLARED_*"],
    )
    env = httpx.get(door.url + "/env").json()
    assert env["DECLARED_LITERAL"] == "from-terraform"  # the service's value beats the image's
    assert env["DECLARED_VARIABLE"] == "from-the-door"  # a variable's local value
    assert env["DECLARED_SECRET"] == "s3cret"  # a secret's local value
    assert "UNDECLARED_SETTING" not in env  # Cloud Run would not have it either
    assert env["LOCAL_ENDPOINT_HOST"] == "127.0.0.1:9"  # named by `inherit`
    assert env["TOML_SETTING"] == "from-toml"
    assert env["PATH"] and env["K_SERVICE"] == "svc"


def test_a_named_local_override_beats_a_terraform_literal(front_door):
    door = front_door(invokers=("allUsers",), door_env=DOOR_ENV, env_overrides=["DECLARED_LITERAL"])
    assert httpx.get(door.url + "/env").json()["DECLARED_LITERAL"] == "from-the-door"


def test_an_instance_whose_secret_has_no_value_never_starts(front_door):
    door = front_door(invokers=("allUsers",), door_env={"DECLARED_SECRET": None}, wait_ready=False)
    assert httpx.get(door.url + "/echo", timeout=30).status_code == 503
    assert door.status()["state"] == "down"
    assert "DECLARED_SECRET" in door.log_path.read_text()


def test_an_inherited_environment_passes_everything_on(front_door):
    door = front_door(invokers=("allUsers",), door_env=DOOR_ENV, environment="inherited")
    env = httpx.get(door.url + "/env").json()
    assert env["UNDECLARED_SETTING"] == "set-locally-only"
    assert env["DECLARED_LITERAL"] == "from-the-door"


def test_trace_headers_generated_or_passed(front_door):
    door = front_door(invokers=("allUsers",))
    generated = httpx.get(door.url + "/echo").json()["headers"]
    version, trace_id, span, flags = generated["traceparent"].split("-")
    assert version == "00" and len(trace_id) == 32 and len(span) == 16 and flags == "01"
    assert generated["x-cloud-trace-context"].startswith(trace_id + "/")
    assert generated["x-cloud-trace-context"].endswith(";o=1")

    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    passed = httpx.get(door.url + "/echo", headers={"traceparent": incoming}).json()["headers"]
    assert passed["traceparent"] == incoming
    assert passed["x-cloud-trace-context"].startswith("0af7651916cd43dd8448eb211c80319c/")
    cloud = "105445aa7843bc8bf206b12000100000/1;o=1"
    kept = httpx.get(door.url + "/echo", headers={"X-Cloud-Trace-Context": cloud}).json()
    assert kept["headers"]["x-cloud-trace-context"] == cloud
    assert kept["headers"]["traceparent"].split("-")[1] == "105445aa7843bc8bf206b12000100000"


def test_hop_by_hop_headers_are_stripped(front_door):
    door = front_door(invokers=("allUsers",))
    request = (
        f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{door.port}\r\nConnection: keep-alive, X-Secret\r\n"
        "X-Secret: drop-me\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
        "Proxy-Authorization: Basic abc\r\nX-Kept: yes\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", door.port), timeout=10) as sock:
        sock.sendall(request.encode())
        data = b""
        while b"}" not in data[-3:]:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    body = data.split(b"\r\n\r\n", 1)[1]
    import json

    headers = json.loads(body)["headers"]
    assert headers["x-kept"] == "yes"
    for name in ("x-secret", "keep-alive", "te", "proxy-authorization"):
        assert name not in headers


def test_streamed_response_is_not_buffered(front_door):
    door = front_door(invokers=("allUsers",))
    began = time.monotonic()
    with httpx.stream("GET", door.url + "/stream?gap=1.5", timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = response.iter_raw()
        first = next(chunks)
        first_at = time.monotonic() - began
        rest = b"".join(chunks)
    total = time.monotonic() - began
    assert b"first" in first and b"last" in rest
    assert first_at < 1.0 < 1.5 <= total + 0.05


def test_request_body_over_32_mib_is_413(front_door):
    door = front_door(invokers=("allUsers",))
    ok = httpx.post(door.url + "/echo", content=b"x" * (32 * 1024 * 1024), timeout=60)
    assert ok.status_code == 200 and ok.json()["body_len"] == 32 * 1024 * 1024
    too_big = httpx.post(door.url + "/echo", content=b"x" * (32 * 1024 * 1024 + 1), timeout=60)
    assert too_big.status_code == 413

    def chunked():
        for _ in range(33):
            yield b"y" * (1024 * 1024)

    assert httpx.post(door.url + "/echo", content=chunked(), timeout=60).status_code == 413


def test_a_response_over_32_mib_of_declared_length_is_500(front_door):
    """HTTP/1's response limit: a body with Content-Length over 32 MiB becomes an empty 500
    from Google's front end; a chunked one of any size passes, and so does a HEAD."""
    door = front_door(invokers=("allUsers",))
    limit = 32 * 1024 * 1024
    at_limit = httpx.get(f"{door.url}/bytes/{limit}", timeout=60)
    assert at_limit.status_code == 200 and len(at_limit.content) == limit
    over = httpx.get(f"{door.url}/bytes/{limit + 1}", timeout=60)
    assert over.status_code == 500 and over.content == b""
    assert "Response size was too large" in door.log_path.read_text()
    chunked = httpx.get(f"{door.url}/bytes/{limit + 1}?chunked=1", timeout=60)
    assert chunked.status_code == 200 and len(chunked.content) == limit + 1
    head = httpx.head(f"{door.url}/bytes/{limit + 1}", timeout=60)
    assert head.status_code == 200 and head.headers["content-length"] == str(limit + 1)


def test_timeout_is_504_and_drops_the_upstream_request(front_door):
    door = front_door(invokers=("allUsers",), timeout=1)
    began = time.monotonic()
    response = httpx.get(door.url + "/sleep/5", timeout=10)
    assert response.status_code == 504
    assert 0.9 < time.monotonic() - began < 3
    assert "maximum request timeout" in response.text
    wait_for(lambda: httpx.get(door.url + "/stats").json()["disconnects"] == 1, timeout=5)


def test_a_cold_start_counts_against_the_request_timeout(front_door):
    """Cloud Run's container contract: the response must come within the timeout, startup
    included. 2 s of startup plus 2 s of work does not fit in 3 s."""
    door = front_door(
        invokers=("allUsers",), timeout=3, env={"STARTUP_DELAY": "2"}, wait_ready=False
    )
    began = time.monotonic()
    response = httpx.get(door.url + "/sleep/2", timeout=10)
    assert response.status_code == 504
    assert 2.9 < time.monotonic() - began < 3.8
    assert httpx.get(door.url + "/sleep/2", timeout=10).status_code == 200  # warm: it fits


def test_one_log_line_per_request(front_door):
    door = front_door(invokers=("allUsers",))
    httpx.post(door.url + "/echo?x=1", content=b"{}")
    httpx.get(door.url + "/missing")
    lines = door.logs().splitlines()
    assert any(" svc POST /echo 200 " in line and line.endswith("ms") for line in lines)
    assert any(" svc GET /missing 404 " in line for line in lines)


def test_cookies_pass_through_but_are_never_kept(front_door):
    door = front_door(invokers=("allUsers",))
    set_response = httpx.get(door.url + "/set-cookie")
    assert "client-a-secret" in set_response.headers["set-cookie"]
    assert "cookie" not in httpx.get(door.url + "/echo").json()["headers"]
    sent = httpx.get(door.url + "/echo", headers={"Cookie": "mine=1"}).json()["headers"]
    assert sent["cookie"] == "mine=1"
