"""The metadata paths and the refusals, over plain HTTP."""

from __future__ import annotations

import subprocess

import httpx
import jwt
from mds_support import FLAVOR, SA, script

from metadata_server_emulator.signing import GCLOUD_CLIENT_ID


def test_requests_without_flavor_header_or_with_forwarded_for_are_403(stack):
    url = stack.base + "/computeMetadata/v1/project/project-id"
    missing = httpx.get(url)
    assert missing.status_code == 403 and "Metadata-Flavor" in missing.text
    assert httpx.get(url, headers={"Metadata-Flavor": "google"}).status_code == 403
    forwarded = httpx.get(url, headers={**FLAVOR, "X-Forwarded-For": "10.0.0.1"})
    assert forwarded.status_code == 403
    ok = httpx.get(url, headers=FLAVOR)
    assert ok.text == "local-project" and ok.headers["Metadata-Flavor"] == "Google"


def test_ping_root_carries_flavor(stack):
    response = httpx.get(stack.base + "/", headers=FLAVOR)
    assert response.status_code == 200 and response.headers["Metadata-Flavor"] == "Google"


def test_service_account_paths(stack):
    base = stack.base + "/computeMetadata/v1/instance/service-accounts/"
    assert httpx.get(base + "default/email", headers=FLAVOR).text == SA
    assert httpx.get(base + f"{SA}/email", headers=FLAVOR).text == SA
    info = httpx.get(base + "default/", params={"recursive": "true"}, headers=FLAVOR).json()
    assert info["email"] == SA and info["aliases"] == ["default"]
    token = httpx.get(base + "default/token", headers=FLAVOR).json()
    assert token["token_type"] == "Bearer" and token["expires_in"] > 3000
    assert (
        httpx.get(base + "nobody@x.iam.gserviceaccount.com/email", headers=FLAVOR).status_code
        == 404
    )
    region = httpx.get(stack.base + "/computeMetadata/v1/instance/region", headers=FLAVOR).text
    assert region.startswith("projects/") and region.endswith("/regions/us-central1")


def test_identity_audience_required_and_format(stack):
    url = stack.base + "/computeMetadata/v1/instance/service-accounts/default/identity"
    assert httpx.get(url, headers=FLAVOR).status_code == 400
    standard = httpx.get(url, params={"audience": "https://a.example"}, headers=FLAVOR).text
    full = httpx.get(
        url, params={"audience": "https://a.example", "format": "full"}, headers=FLAVOR
    ).text
    plain = jwt.decode(standard, options={"verify_signature": False})
    assert "email" not in plain and plain["aud"] == "https://a.example"
    assert jwt.decode(full, options={"verify_signature": False})["email"] == SA


def _verify_with_tasks_jwks(token: str, stack, audience: str) -> dict:
    key = jwt.PyJWKClient(stack.issuer + "/oauth2/v3/certs").get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=stack.issuer)


def test_user_token_endpoint_and_cli(stack):
    via_http = httpx.get(
        stack.base + "/emulator/v1/user-token",
        params={"email": "dev@example.com", "audience": "http://127.0.0.1:8080"},
    ).text
    via_cli = subprocess.run(
        [*script("metadata-server-emulator", "metadata_server_emulator"), "token",
         "--email", "dev@example.com", "--audience", "http://127.0.0.1:8080",
         "--issuer", stack.issuer, "--signing-key", str(stack.key_file)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    for token in (via_http, via_cli):
        claims = _verify_with_tasks_jwks(token, stack, "http://127.0.0.1:8080")
        assert claims["email"] == "dev@example.com"


def test_a_users_token_is_for_gclouds_client_unless_an_audience_is_named(stack):
    """gcloud prints a user's ID token for its own OAuth client (`aud` and `azp`); Cloud Run
    accepts it, and an app that checks `aud` sees that client, not its own URL."""
    via_http = httpx.get(
        stack.base + "/emulator/v1/user-token", params={"email": "dev@example.com"}
    ).text
    via_cli = subprocess.run(
        [*script("metadata-server-emulator", "metadata_server_emulator"), "token",
         "--email", "dev@example.com",
         "--issuer", stack.issuer, "--signing-key", str(stack.key_file)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    for token in (via_http, via_cli):
        claims = _verify_with_tasks_jwks(token, stack, GCLOUD_CLIENT_ID)
        assert claims["azp"] == GCLOUD_CLIENT_ID and claims["email_verified"] is True
    empty = httpx.get(stack.base + "/emulator/v1/user-token", params={"email": ""})
    assert empty.status_code == 400


def test_signing_key_file_is_private(stack):
    assert stack.key_file.stat().st_mode & 0o777 == 0o600
