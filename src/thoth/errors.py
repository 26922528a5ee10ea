"""The error taxonomy: every expected failure is a `ThothError` of one category, and each
edge maps categories once (HTTP statuses in the worker, exit codes in the CLI, tool errors in
the MCP server) with the functions below.

    ThothError                  category decides the answer; `permanent` whether a retry helps
    ├── NotFoundError           404 / exit 66   a source, job, folder or version is missing
    ├── ConflictError           409 / exit 75   someone else holds it or moved it; retry later
    ├── InvalidInputError       422 / exit 65   the request or a stored configuration is wrong
    ├── UnavailableError        503 / exit 69   a dependency failed or is busy; retry
    └── ForbiddenError          403 / exit 77   credentials were refused, or a path is off limits

Existing errors keep their old bases (`LookupError`, `ValueError`, ...) beside these, so code
that catches them by the old names still works.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class Category(StrEnum):
    not_found = "not_found"
    conflict = "conflict"
    invalid_input = "invalid_input"
    unavailable = "unavailable"
    forbidden = "forbidden"


_HTTP_STATUS = {
    Category.not_found: 404,
    Category.conflict: 409,
    Category.invalid_input: 422,
    Category.unavailable: 503,
    Category.forbidden: 403,
}
# sysexits.h: EX_NOINPUT, EX_TEMPFAIL, EX_DATAERR, EX_UNAVAILABLE, EX_NOPERM
_EXIT_CODE = {
    Category.not_found: 66,
    Category.conflict: 75,
    Category.invalid_input: 65,
    Category.unavailable: 69,
    Category.forbidden: 77,
}
_PERMANENT = {Category.not_found, Category.invalid_input, Category.forbidden}


class ThothError(Exception):
    """Base of every expected failure."""

    category: ClassVar[Category] = Category.unavailable
    # None: decided by the category. A conflict that no retry can resolve sets True.
    always_permanent: ClassVar[bool | None] = None

    @property
    def permanent(self) -> bool:
        """True when repeating the same request cannot succeed."""
        if self.always_permanent is not None:
            return self.always_permanent
        return self.category in _PERMANENT


class NotFoundError(ThothError):
    category = Category.not_found


class ConflictError(ThothError):
    category = Category.conflict


class InvalidInputError(ThothError):
    category = Category.invalid_input


class UnavailableError(ThothError):
    category = Category.unavailable


class ForbiddenError(ThothError):
    category = Category.forbidden


def http_status(category: Category) -> int:
    return _HTTP_STATUS[category]


def exit_code(category: Category) -> int:
    return _EXIT_CODE[category]


def is_permanent(exc: BaseException) -> bool:
    """True for a ThothError no retry can fix; unknown errors count as transient."""
    return isinstance(exc, ThothError) and exc.permanent


def encodable(text: str, limit: int | None = None) -> str:
    """`text` (cut to `limit` characters, with "...") that encodes as UTF-8, for an error
    message that quotes input: a lone surrogate becomes its escape."""
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
