"""How the worker answers a failure: a ThothError by its category (thoth.errors), a body
that does not validate with a short 422.

Pydantic's own 422 lists every error with the input that caused it: a body of 400,000
unknown fields became a 40 MB answer (over Cloud Run's 32 MiB cap), and an input that is
not valid UTF-8 could not be encoded at all. So at most MAX_SHOWN_ERRORS errors are shown,
each without its input, every string cut short and made encodable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from thoth.errors import ThothError, encodable, http_status

MAX_SHOWN_ERRORS = 20
MAX_LOC_PARTS = 8
MAX_LOC_CHARS = 100
MAX_MESSAGE_CHARS = 300


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ThothError, _thoth_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)


async def _thoth_error(_: Request, exc: Exception) -> Response:
    """Every expected failure, mapped once by its category."""
    assert isinstance(exc, ThothError)
    return JSONResponse({"detail": encodable(str(exc))}, status_code=http_status(exc.category))


async def _invalid_request(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    body: dict[str, Any] = {"detail": [_brief(error) for error in errors[:MAX_SHOWN_ERRORS]]}
    if len(errors) > MAX_SHOWN_ERRORS:
        body["omitted"] = len(errors) - MAX_SHOWN_ERRORS
    return JSONResponse(body, status_code=422)


def _brief(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": _loc(error.get("loc", ())),
        "msg": encodable(str(error.get("msg", "")), MAX_MESSAGE_CHARS),
        "type": encodable(str(error.get("type", "")), MAX_LOC_CHARS),
    }


def _loc(loc: Sequence[Any]) -> list[str | int]:
    """Where the error is; a key (an unknown field's name) may be as long as the body."""
    return [
        part if isinstance(part, int) else encodable(str(part), MAX_LOC_CHARS)
        for part in loc[:MAX_LOC_PARTS]
    ]
