"""The request body, refused before it is parsed unless it is JSON and within GitLab's own
limit: the receiver is public. A push event lists at most 20 commits, but each with every
path it added, changed or removed, so a commit that moves thousands of files makes a body of
megabytes; GitLab sends bodies up to 25 MiB (its webhook request limit), and a refused one
counts as a failed delivery that GitLab does not retry."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

MAX_BODY_BYTES = 25 * 1024 * 1024


class BodyRefused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def json_body(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The parsed JSON body; BodyRefused (415, 413 or 400) otherwise."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise BodyRefused(415, "send JSON (Content-Type: application/json)")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyRefused(413, f"body over {limit} bytes")
    data = bytearray()
    async for piece in request.stream():  # a chunked body declares no length
        data += piece
        if len(data) > limit:
            raise BodyRefused(413, f"body over {limit} bytes")
    try:
        return json.loads(data)
    # ValueError also covers an integer of more digits than Python converts; RecursionError,
    # arrays nested too deep to parse
    except (ValueError, RecursionError):
        raise BodyRefused(400, "the body is not valid JSON") from None
