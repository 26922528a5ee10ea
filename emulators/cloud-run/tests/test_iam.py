"""The invoker check, the header the token is read from, and the token the container sees."""

from __future__ import annotations

import time

import httpx
import jwt
from crun_support import SA_TASKS, STRANGER, USER

from cloud_run_emulator.config import GCLOUD_CLIENT_ID


def _echo(door, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(door.url + "/echo", headers=headers, timeout=10)


def test_valid_invoker_token_reaches_container_with_signature_removed(front_door, issuer):
    door = front_door()
    token = issuer.token(SA_TASKS, door.url)
    response = _echo(door, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    forwarded = response.json()["headers"]["authorization"]
    head, payload, _ = token.split(".")
    assert forwarded == f"Bearer {head}.{payload}.SIGNATURE_REMOVED_BY_GOOGLE"
    claims = jwt.decode(forwarded[7:], options={"verify_signature": False})
    assert claims["email"] == SA_TASKS and claims["aud"] == door.url


def test_serverless_header_wins_and_authorization_passes_untouched(front_door, issuer):
    door = front_door()
    token = issuer.token(USER, door.url)
    response = _echo(
        door,
        {"X-Serverless-Authorization": f"Bearer {token}", "Authorization": "Bearer app-token-1"},
    )
    assert response.status_code == 200
    seen = response.json()["headers"]
    assert seen["authorization"] == "Bearer app-token-1"
    assert seen["x-serverless-authorization"].endswith(".SIGNATURE_REMOVED_BY_GOOGLE")
    # An app token in Authorization alone is no ID token: Cloud Run refuses it.
    assert _echo(door, {"Authorization": "Bearer app-token-1"}).status_code == 401


def test_missing_token_is_403(front_door):
    door = front_door()
    response = _echo(door, {})
    assert response.status_code == 403
    assert "Error: Forbidden" in response.text and "<code>/echo</code>" in response.text


def test_invalid_tokens_are_401_with_challenge(front_door, issuer):
    door = front_door()
    good = issuer.token(USER, door.url)
    head, payload, sig = good.split(".")
    tampered = f"{head}.{payload}.{sig[:-4]}AAAA"
    expired = issuer.token(USER, door.url, exp=int(time.time()) - 60)
    wrong_audience = issuer.token(USER, "http://elsewhere.example")
    stripped = f"{head}.{payload}.SIGNATURE_REMOVED_BY_GOOGLE"
    for bad in (tampered, expired, wrong_audience, stripped, "not-a-jwt"):
        response = _echo(door, {"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401, bad
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
        assert "Error: Unauthorized" in response.text
    assert good not in door.logs() and sig not in door.logs()


def test_valid_token_of_non_invoker_is_403(front_door, issuer):
    door = front_door()
    response = _echo(door, {"Authorization": f"Bearer {issuer.token(STRANGER, door.url)}"})
    assert response.status_code == 403
    assert "Error: Forbidden" in response.text


def test_custom_audience_accepted(front_door, issuer):
    door = front_door(audiences=["https://worker.example"])
    token = issuer.token(USER, "https://worker.example")
    assert _echo(door, {"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_users_gcloud_token_is_accepted_as_cloud_run_accepts_it(front_door, issuer):
    """`gcloud auth print-identity-token` gives a user a token for gcloud's own client,
    not for the service (Cloud Run's "Authenticate developers"); Cloud Run lets it in. A
    token for another service's URL is still refused."""
    door = front_door()
    token = issuer.token(USER, GCLOUD_CLIENT_ID)
    response = _echo(door, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    forwarded = response.json()["headers"]["authorization"][7:]
    assert jwt.decode(forwarded, options={"verify_signature": False})["aud"] == GCLOUD_CLIENT_ID
    other = issuer.token(USER, "https://another-service.example")
    assert _echo(door, {"Authorization": f"Bearer {other}"}).status_code == 401
    stranger = issuer.token(STRANGER, GCLOUD_CLIENT_ID)
    assert _echo(door, {"Authorization": f"Bearer {stranger}"}).status_code == 403


def test_all_users_needs_no_token_and_passes_authorization_untouched(front_door):
    door = front_door(invokers=("allUsers",))
    response = _echo(door, {"Authorization": "Bearer app-token-2"})
    assert response.status_code == 200
    assert response.json()["headers"]["authorization"] == "Bearer app-token-2"
