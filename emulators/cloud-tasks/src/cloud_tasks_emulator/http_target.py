"""A queue's http_target: overrides of the URL, method, headers and token of its HTTP tasks.

They are applied when a task is dispatched, so an UpdateQueue reaches tasks already queued.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

from google.cloud import tasks_v2

from .errors import invalid
from .task import MAX_HEADER_BYTES, HttpCall

TARGET_FIELDS = frozenset(
    {"uri_override", "http_method", "header_overrides", "oauth_token", "oidc_token"}
)
_SCHEMES = {0: "https", 1: "http", 2: "https"}  # SCHEME_UNSPECIFIED means HTTPS
_BODY_METHODS = {"POST", "PUT", "PATCH"}


@dataclass(frozen=True)
class UriRule:
    scheme: str | None = None
    host: str | None = None
    port: int | None = None  # 0 clears the port
    path: str | None = None
    query: str | None = None
    only_if_missing: bool = False  # UriOverrideEnforceMode.IF_NOT_EXISTS

    def apply(self, url: str) -> str:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme, parts.hostname or "", parts.port
        path, query = parts.path, parts.query
        if self.scheme is not None and not self.only_if_missing:
            scheme = self.scheme
        if self.host is not None and not self.only_if_missing:
            host = self.host
        if self.port is not None and (port is None or not self.only_if_missing):
            port = self.port or None
        if self.path is not None and (not path or not self.only_if_missing):
            path = self.path if self.path.startswith("/") or not self.path else "/" + self.path
        if self.query is not None and (not query or not self.only_if_missing):
            query = self.query
        netloc = f"[{host}]" if ":" in host else host
        if port:
            netloc += f":{port}"
        return urlunsplit((scheme, netloc, path, query, parts.fragment))


@dataclass(frozen=True)
class HttpTargetOverride:
    proto: tasks_v2.HttpTarget
    uri: UriRule | None = None
    method: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def apply(self, call: HttpCall) -> HttpCall:
        url = self.uri.apply(call.url) if self.uri is not None else call.url
        method = self.method or call.method
        body = call.body if method in _BODY_METHODS else b""
        headers = dict(call.headers)
        for key, value in self.headers:
            for existing in [k for k in headers if k.lower() == key.lower()]:
                del headers[existing]
            headers[key] = value
        result = replace(call, url=url, method=method, body=body, headers=headers)
        if "oidc_token" in self.proto:
            token = self.proto.oidc_token
            result = replace(
                result,
                oidc_email=token.service_account_email,
                oidc_audience=token.audience,
                oauth_email="",
                oauth_scope="",
            )
        elif "oauth_token" in self.proto:
            token = self.proto.oauth_token
            result = replace(
                result,
                oauth_email=token.service_account_email,
                oauth_scope=token.scope,
                oidc_email="",
                oidc_audience="",
            )
        return result


def _uri_rule(msg: tasks_v2.UriOverride) -> UriRule:
    if "host" in msg and not msg.host:
        raise invalid("http_target.uri_override.host cannot be empty")
    if "port" in msg and msg.port < 0:
        raise invalid("http_target.uri_override.port must be a positive integer (0 clears it)")
    if_not_exists = tasks_v2.UriOverride.UriOverrideEnforceMode.IF_NOT_EXISTS
    return UriRule(
        scheme=_SCHEMES[int(msg.scheme)] if "scheme" in msg else None,
        host=msg.host if "host" in msg else None,
        port=int(msg.port) if "port" in msg else None,
        path=msg.path_override.path if "path_override" in msg else None,
        query=msg.query_override.query_params if "query_override" in msg else None,
        only_if_missing=msg.uri_override_enforce_mode == if_not_exists,
    )


def _check_tokens(msg: tasks_v2.HttpTarget) -> None:
    # Queue-level tokens need every field (the task-level ones have defaults).
    if "oidc_token" in msg and not (
        msg.oidc_token.service_account_email and msg.oidc_token.audience
    ):
        raise invalid("http_target.oidc_token needs service_account_email and audience")
    if "oauth_token" in msg and not (
        msg.oauth_token.service_account_email and msg.oauth_token.scope
    ):
        raise invalid("http_target.oauth_token needs service_account_email and scope")


def target_from_proto(queue: tasks_v2.Queue) -> HttpTargetOverride | None:
    if "http_target" not in queue:
        return None
    msg = tasks_v2.HttpTarget(queue.http_target)
    _check_tokens(msg)
    headers = tuple((o.header.key, o.header.value) for o in msg.header_overrides)
    if any(not key for key, _ in headers):
        raise invalid("http_target.header_overrides: every header needs a key")
    if sum(len(k.encode()) + len(v.encode()) for k, v in headers) >= MAX_HEADER_BYTES:
        raise invalid("http_target.header_overrides must be under 80KB")
    method = tasks_v2.HttpMethod(msg.http_method)
    return HttpTargetOverride(
        proto=msg,
        uri=_uri_rule(msg.uri_override) if "uri_override" in msg else None,
        method=None if method == tasks_v2.HttpMethod.HTTP_METHOD_UNSPECIFIED else method.name,
        headers=headers,
    )


def merge_target(
    current: HttpTargetOverride | None, update: tasks_v2.Queue, fields: set[str] | None
) -> HttpTargetOverride | None:
    """UpdateQueue: the whole http_target (fields None) or only the named sub-fields."""
    if fields is None:
        return target_from_proto(update)
    merged = tasks_v2.HttpTarget(current.proto if current is not None else tasks_v2.HttpTarget())
    for field in fields:
        setattr(merged, field, getattr(update.http_target, field))
    return target_from_proto(tasks_v2.Queue(http_target=merged))
