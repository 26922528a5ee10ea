"""The metadata paths google-auth and Cloud Run code use, answered for one identity.

Every /computeMetadata/ request must carry `Metadata-Flavor: Google` and no
`X-Forwarded-For` (the real server refuses both with 403, so a proxied or browser request
cannot read credentials). Every answer carries `Metadata-Flavor: Google`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aiohttp import web

from .signing import GCLOUD_CLIENT_ID, TOKEN_LIFETIME_SECONDS, Signer

ROOT = "/computeMetadata/v1/"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
FLAVOR = {"Metadata-Flavor": "Google"}


@dataclass(frozen=True)
class Identity:
    email: str
    project_id: str
    numeric_project_id: str
    region: str


def _text(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="application/text", headers=FLAVOR)


def _json(payload: object) -> web.Response:
    return web.Response(text=json.dumps(payload), content_type="application/json", headers=FLAVOR)


class Routes:
    def __init__(self, identity: Identity, signer: Signer) -> None:
        self.identity = identity
        self.signer = signer

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/":
            return _text("computeMetadata/\n")
        if request.path.startswith("/emulator/v1/"):
            return self._emulator(request)
        if not request.path.startswith(ROOT):
            return _text("Not Found\n", 404)
        if request.headers.get("Metadata-Flavor") != "Google":
            return _text('Missing required header "Metadata-Flavor": "Google"\n', 403)
        if "X-Forwarded-For" in request.headers:
            return _text("Request contains X-Forwarded-For; refused\n", 403)
        return self._metadata(request, request.path[len(ROOT) :])

    def _metadata(self, request: web.Request, path: str) -> web.Response:
        ident = self.identity
        fixed = {
            "project/project-id": ident.project_id,
            "project/numeric-project-id": ident.numeric_project_id,
            "instance/region": f"projects/{ident.numeric_project_id}/regions/{ident.region}",
            "instance/zone": f"projects/{ident.numeric_project_id}/zones/{ident.region}-1",
            "instance/id": "00" + ident.numeric_project_id,
            "universe/universe-domain": "googleapis.com",
            "instance/service-accounts/": f"default/\n{ident.email}/\n",
        }
        if path in fixed:
            return _text(fixed[path])
        prefix = "instance/service-accounts/"
        if path.startswith(prefix):
            account, _, leaf = path[len(prefix) :].partition("/")
            if account in ("default", ident.email):
                return self._account(request, leaf)
        return _text("Not Found\n", 404)

    def _account(self, request: web.Request, leaf: str) -> web.Response:
        email = self.identity.email
        if leaf == "":
            if request.query.get("recursive", "").lower() == "true":
                return _json({"aliases": ["default"], "email": email, "scopes": list(SCOPES)})
            return _text("aliases\nemail\nidentity\nscopes\ntoken\n")
        if leaf == "email":
            return _text(email)
        if leaf == "aliases":
            return _text("default\n")
        if leaf == "scopes":
            return _text("".join(s + "\n" for s in SCOPES))
        if leaf == "token":
            return _json(
                {
                    "access_token": self.signer.access_token(),
                    "expires_in": TOKEN_LIFETIME_SECONDS - 1,
                    "token_type": "Bearer",
                }
            )
        if leaf == "identity":
            audience = request.query.get("audience", "")
            if not audience:
                return _text("non-empty audience parameter required\n", 400)
            full = request.query.get("format", "standard") == "full"
            return _text(self.signer.id_token(email, audience, full=full))
        return _text("Not Found\n", 404)

    def _emulator(self, request: web.Request) -> web.Response:
        """Not in the real server: a user's ID token, as `gcloud auth print-identity-token`."""
        if request.path == "/emulator/v1/health":
            return _json({"status": "ok", "email": self.identity.email})
        if request.path == "/emulator/v1/user-token":
            email = request.query.get("email", "")
            audience = request.query.get("audience", GCLOUD_CLIENT_ID)
            if not email or not audience:
                return _text("email (and, when given, audience) must not be empty\n", 400)
            return _text(self.signer.user_token(email, audience))
        return _text("Not Found\n", 404)
