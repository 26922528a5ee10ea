"""OIDC tokens on dispatch, verified against the emulator's discovery document and JWKS."""

from __future__ import annotations

import google.auth.transport.requests
import jwt
import requests
from google.oauth2 import id_token
from tasks_support import Target

SA = "ingest@test-project.iam.gserviceaccount.com"


def test_oidc_token_verifies_against_served_jwks(client, make_queue, emulator, target) -> None:
    queue = make_queue()
    client.create_task(
        parent=queue.name,
        task={
            "http_request": {
                "url": target.url("/secure?x=1"),
                "oidc_token": {"service_account_email": SA, "audience": "https://worker.example"},
            }
        },
    )
    (got,) = target.wait_count("/secure", 1)
    scheme, token = got.headers["Authorization"].split(" ", 1)
    assert scheme == "Bearer"

    discovery = emulator.get_json("/.well-known/openid-configuration")
    assert discovery["issuer"] == emulator.http_base
    assert discovery["jwks_uri"] == emulator.http_base + "/oauth2/v3/certs"
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]

    signing_key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],
        audience="https://worker.example",
        issuer=discovery["issuer"],
    )
    assert claims["email"] == SA and claims["email_verified"] is True
    assert claims["sub"].isdigit() and claims["azp"] == claims["sub"]
    assert claims["exp"] - claims["iat"] == 3600
    assert jwt.get_unverified_header(token)["kid"] == signing_key.key_id

    # google-auth, as a Cloud Run service would verify it, pointed at the emulator's JWKS.
    request = google.auth.transport.requests.Request(session=requests.Session())
    verified = id_token.verify_token(
        token, request, audience="https://worker.example", certs_url=discovery["jwks_uri"]
    )
    assert verified["email"] == SA and verified["iss"] == emulator.http_base


def test_oidc_audience_defaults_to_task_url(client, make_queue, target: Target) -> None:
    queue = make_queue()
    url = target.url("/aud?page=2")
    client.create_task(
        parent=queue.name,
        task={"http_request": {"url": url, "oidc_token": {"service_account_email": SA}}},
    )
    (got,) = target.wait_count("/aud", 1)
    token = got.headers["Authorization"].split(" ", 1)[1]
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == url


def test_subject_is_stable_per_service_account(client, make_queue, target: Target) -> None:
    queue = make_queue()
    for _ in range(2):
        client.create_task(
            parent=queue.name,
            task={
                "http_request": {
                    "url": target.url("/sub"),
                    "oidc_token": {"service_account_email": SA},
                }
            },
        )
    first, second = target.wait_count("/sub", 2)
    subs = {
        jwt.decode(r.headers["Authorization"][7:], options={"verify_signature": False})["sub"]
        for r in (first, second)
    }
    assert len(subs) == 1


def test_oauth_token_gets_opaque_bearer(client, make_queue, target: Target) -> None:
    queue = make_queue()
    client.create_task(
        parent=queue.name,
        task={
            "http_request": {
                "url": target.url("/oauth"),
                "oauth_token": {"service_account_email": SA},
            }
        },
    )
    (got,) = target.wait_count("/oauth", 1)
    assert got.headers["Authorization"].startswith("Bearer ya29.")


def test_shared_signing_key_file_is_created_private_and_reused(tmp_path) -> None:
    from tasks_support import start_emulator

    key_file = tmp_path / "keys" / "signing.pem"
    first = start_emulator(tmp_path, "--signing-key", str(key_file))
    try:
        assert key_file.stat().st_mode & 0o777 == 0o600
        jwks_first = first.get_json("/oauth2/v3/certs")
    finally:
        first.stop()
    second = start_emulator(tmp_path, env={"CLOUD_TASKS_EMULATOR_SIGNING_KEY": str(key_file)})
    try:
        assert second.get_json("/oauth2/v3/certs") == jwks_first
    finally:
        second.stop()
