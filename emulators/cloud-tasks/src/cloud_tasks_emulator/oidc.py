"""OIDC identity tokens: an RSA signing key, RS256 minting, discovery and JWKS documents.

The key is made at start, or loaded from a PEM file shared with other local emulators (the
metadata server) so that one issuer URL and one JWKS verify every local identity token.
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

JWKS_PATH = "/oauth2/v3/certs"
DISCOVERY_PATH = "/.well-known/openid-configuration"
TOKEN_LIFETIME_SECONDS = 3600


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def subject_for(email: str) -> str:
    """A stable 21-digit numeric id for a service account, like Google's unique ids."""
    digest = hashlib.sha256(email.encode("utf-8")).digest()
    return str(int.from_bytes(digest[:9], "big") % 10**20 + 10**20)


def load_signing_key(path: Path) -> rsa.RSAPrivateKey:
    """The RSA key in PEM file `path`, created (mode 0600) if missing.

    Creation is exclusive, so two emulators starting at once agree on one key: the loser of
    the race reads the winner's file.
    """
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


class TokenIssuer:
    """Signs identity tokens with an RSA key and publishes its public half."""

    def __init__(self, issuer: str, key_file: Path | None = None) -> None:
        self.issuer = issuer.rstrip("/")
        self._key = (
            load_signing_key(key_file)
            if key_file is not None
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        numbers = self._key.public_key().public_numbers()
        self._jwk: dict[str, str] = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }
        self.kid = hashlib.sha256(self._jwk["n"].encode("ascii")).hexdigest()[:40]
        self._jwk["kid"] = self.kid

    def id_token(self, email: str, audience: str, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        subject = subject_for(email)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience,
            "azp": subject,
            "sub": subject,
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

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self._jwk)]}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": self.issuer + JWKS_PATH,
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": [
                "aud",
                "azp",
                "email",
                "email_verified",
                "exp",
                "iat",
                "iss",
                "sub",
            ],
        }
