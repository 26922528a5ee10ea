"""ID tokens signed with the local issuer's key.

The key file, `kid` rule and claim shape are those of the Cloud Tasks emulator
(emulators/cloud-tasks/src/cloud_tasks_emulator/oidc.py), so with the same PEM file and issuer
URL its JWKS (port 8124) verifies these tokens too; tests/test_shared_issuer.py holds the two
to that. Kept as a copy so this package does not depend on gRPC.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_LIFETIME_SECONDS = 3600


def load_signing_key(path: Path) -> rsa.RSAPrivateKey:
    """The RSA key in PEM file `path`, created exclusively (mode 0600) if missing."""
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            return key
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return loaded


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def subject_for(email: str) -> str:
    """A stable 21-digit numeric id for an account, like Google's unique ids."""
    digest = hashlib.sha256(email.encode("utf-8")).digest()
    return str(int.from_bytes(digest[:9], "big") % 10**20 + 10**20)


# gcloud's own OAuth client. `gcloud auth print-identity-token` for a user account gives a
# token for it (`aud` and `azp`): gcloud takes `--audiences` from service accounts only.
GCLOUD_CLIENT_ID = "32555940559.apps.googleusercontent.com"


class Signer:
    def __init__(self, issuer: str, key_file: Path) -> None:
        self.issuer = issuer.rstrip("/")
        self._key = load_signing_key(key_file)
        n = _b64url_uint(self._key.public_key().public_numbers().n)
        self.kid = hashlib.sha256(n.encode("ascii")).hexdigest()[:40]

    def id_token(
        self, email: str, audience: str, *, full: bool = True, now: float | None = None
    ) -> str:
        """An ID token for `email`; `full=False` leaves out email, as format=standard does."""
        issued = int(now if now is not None else time.time())
        subject = subject_for(email)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience,
            "azp": subject,
            "sub": subject,
            "iat": issued,
            "exp": issued + TOKEN_LIFETIME_SECONDS,
        }
        if full:
            claims |= {"email": email, "email_verified": True}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def user_token(
        self, email: str, audience: str = GCLOUD_CLIENT_ID, *, now: float | None = None
    ) -> str:
        """A user's ID token as gcloud prints it: for gcloud's client (`aud` and `azp`) unless
        `audience` names another (as a service account's may; `azp` is then its subject)."""
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience,
            "azp": GCLOUD_CLIENT_ID if audience == GCLOUD_CLIENT_ID else subject_for(email),
            "sub": subject_for(email),
            "email": email,
            "email_verified": True,
            "iat": issued,
            "exp": issued + TOKEN_LIFETIME_SECONDS,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    @staticmethod
    def access_token() -> str:
        """An opaque fake OAuth access token (nothing can verify it; it only has the shape)."""
        return "ya29.emulator-" + secrets.token_urlsafe(32)
