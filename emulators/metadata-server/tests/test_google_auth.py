"""The real google-auth, unchanged, against the emulator through GCE_METADATA_HOST/IP."""

from __future__ import annotations

import google.auth.transport.requests
import requests
from google.oauth2 import id_token
from mds_support import OTHER_SA, SA, run_python

FETCH = """
import json
import google.auth, google.auth.transport.requests
from google.auth import compute_engine
from google.oauth2 import id_token
request = google.auth.transport.requests.Request()
token = id_token.fetch_id_token(request, "http://127.0.0.1:8081")
creds = compute_engine.Credentials()
creds.refresh(request)
_, project = google.auth.default()
print(json.dumps({"id_token": token, "access_token": creds.token,
                  "email": creds.service_account_email, "project": project}))
"""


def _env(host: str) -> dict[str, str]:
    return {"GCE_METADATA_HOST": host, "GCE_METADATA_IP": host, "NO_GCE_CHECK": "false"}


def _verify(token: str, issuer: str, audience: str) -> dict:
    request = google.auth.transport.requests.Request(session=requests.Session())
    return id_token.verify_token(
        token, request, audience=audience, certs_url=issuer + "/oauth2/v3/certs"
    )


def test_fetch_id_token_and_compute_credentials(stack):
    got = run_python(FETCH, _env(stack.metadata_host))
    assert got["email"] == SA and got["project"] == "local-project"
    assert got["access_token"].startswith("ya29.")
    # Verified against the Cloud Tasks emulator's JWKS: one issuer for every local token.
    claims = _verify(got["id_token"], stack.issuer, "http://127.0.0.1:8081")
    assert claims["email"] == SA and claims["iss"] == stack.issuer
    assert claims["email_verified"] is True and claims["exp"] - claims["iat"] == 3600


def test_extra_identity_port_answers_as_its_own_service_account(stack):
    got = run_python(FETCH, _env(f"127.0.0.1:{stack.other_port}"))
    assert got["email"] == OTHER_SA
    assert _verify(got["id_token"], stack.issuer, "http://127.0.0.1:8081")["email"] == OTHER_SA
