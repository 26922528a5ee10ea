"""What the front door changes in headers on the way in and out."""

from __future__ import annotations

import secrets

from multidict import CIMultiDict, CIMultiDictProxy

# RFC 9110 7.6.1 connection-specific fields; Cloud Run's front end is a proxy and drops them.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def _connection_tokens(headers: CIMultiDictProxy[str]) -> set[str]:
    tokens: set[str] = set()
    for value in headers.getall("Connection", []):
        tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def end_to_end(
    headers: CIMultiDictProxy[str], drop: frozenset[str] = frozenset()
) -> CIMultiDict[str]:
    """A copy without hop-by-hop fields, those named in Connection, and `drop` (lowercase)."""
    skip = HOP_BY_HOP | _connection_tokens(headers) | drop
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in skip)


def add_forwarded(headers: CIMultiDict[str], client_ip: str, proto: str) -> None:
    earlier = headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{earlier}, {client_ip}" if earlier else client_ip
    headers["X-Forwarded-Proto"] = proto


def add_trace(headers: CIMultiDict[str]) -> str:
    """Keep incoming trace headers; create the missing ones with one shared trace id.

    Returns the trace id (32 hex digits) for the request log.
    """
    trace_id = _incoming_trace_id(headers) or secrets.token_hex(16)
    span = secrets.randbits(63) or 1
    if "traceparent" not in headers:
        headers["traceparent"] = f"00-{trace_id}-{span:016x}-01"
    if "X-Cloud-Trace-Context" not in headers:
        headers["X-Cloud-Trace-Context"] = f"{trace_id}/{span};o=1"
    return trace_id


def _incoming_trace_id(headers: CIMultiDict[str]) -> str | None:
    parent = headers.get("traceparent", "").split("-")
    if len(parent) == 4 and len(parent[1]) == 32:
        return parent[1].lower()
    cloud = headers.get("X-Cloud-Trace-Context", "").split("/", 1)[0]
    if len(cloud) == 32:
        return cloud.lower()
    return None
