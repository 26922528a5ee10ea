"""ID tokens for a local user, from the metadata-server emulator: what `gcloud auth
print-identity-token` gives in the cloud, signed by the stack's one local issuer."""

from __future__ import annotations

import httpx

from thoth_devstack.front_door import DEV_USER
from thoth_devstack.services import METADATA_PORT

USER_TOKEN_URL = f"http://127.0.0.1:{METADATA_PORT}/emulator/v1/user-token"


class TokenUnavailable(Exception):
    """The metadata emulator is not running or refused."""


def user_token(audience: str | None = None, email: str = DEV_USER) -> str:
    """`email`'s ID token for `audience`; None: for gcloud's own client, the audience gcloud
    gives a user account's token (Cloud Run accepts it)."""
    params = {"email": email} | ({"audience": audience} if audience else {})
    try:
        answer = httpx.get(USER_TOKEN_URL, params=params, timeout=10)
    except httpx.HTTPError as exc:
        raise TokenUnavailable(
            f"the metadata emulator on 127.0.0.1:{METADATA_PORT} does not answer: run `make up`"
        ) from exc
    if answer.status_code != 200:
        raise TokenUnavailable(f"the metadata emulator refused: {answer.text.strip()}")
    return answer.text.strip()


def iam_headers(audience: str) -> dict[str, str]:
    """What an invoker sends through a private front door: the ID token in the header that
    leaves `Authorization` to the app."""
    return {"X-Serverless-Authorization": f"Bearer {user_token(audience)}"}
