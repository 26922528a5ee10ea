"""The request body, refused before it is parsed unless it is JSON and within GitLab's own
limit: the receiver is public. A push event lists at most 20 commits, but each with every
path it added, changed or removed, so a commit that moves thousands of files makes a body of
megabytes; GitLab sends bodies up to 25 MiB (its webhook request limit), and a refused one
counts as a failed delivery that GitLab does not retry."""

from __future__ import annotations

from fastapi import Request

MAX_BODY_BYTES = 25 * 1024 * 1024


class BodyRefused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def raw_json_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body's bytes, sent as JSON and within `limit`; BodyRefused (415 or 413) otherwise.
    A model parses them itself: pydantic skips the fields it ignores (a push's path lists),
    where json.loads would build them (~90 MB for a 20 MiB push, against ~1 MB)."""
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
    return bytes(data)
