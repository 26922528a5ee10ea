"""The front door's own answers, shaped like Google Front End's error pages."""

from __future__ import annotations

import html

from aiohttp import web

from .iam import INVALID_TOKEN_CHALLENGE

_TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _message(status: int, path: str) -> str:
    code = f"<code>{html.escape(path)}</code>"
    if status == 401:
        return f"Your client does not have permission to the requested URL {code}."
    if status == 403:
        return f"Your client does not have permission to get URL {code} from this server."
    if status == 413:
        return "Your client issued a request that was too large (limit: 32 MiB)."
    if status == 429:
        return "Rate exceeded: no container instance could take the request in time."
    if status == 504:
        return "The request has been terminated because it has reached the maximum request timeout."
    return "The service could not start, or its container stopped while handling the request."


def error_page(status: int, path: str) -> web.Response:
    title = _TITLES[status]
    body = (
        '<html><head>\n<meta http-equiv="content-type" content="text/html;charset=utf-8">\n'
        f"<title>{status} {title}</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n"
        f"<h1>Error: {title}</h1>\n<h2>{_message(status, path)}</h2>\n<h2></h2>\n</body></html>\n"
    )
    headers = {"WWW-Authenticate": INVALID_TOKEN_CHALLENGE} if status == 401 else None
    return web.Response(
        status=status, text=body, content_type="text/html", charset="utf-8", headers=headers
    )
