"""What search can refuse. Every message is written to be shown to the caller (an AI
assistant) as is: it says what was wrong and what exists instead."""

from __future__ import annotations

from thoth.errors import InvalidInputError, NotFoundError, UnavailableError


class SearchError(ValueError):
    """Base class: the request cannot be answered as asked."""


class InvalidQueryError(SearchError, InvalidInputError):
    """Empty query, num_results out of range, unknown mode, or a prefix that matches nothing."""


class UnknownSourceError(SearchError, NotFoundError):
    """The named source is not loaded."""


class DocumentNotFoundError(SearchError, NotFoundError):
    """No document has that path; `suggestions` holds the closest paths."""

    def __init__(self, message: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.suggestions = suggestions


class IndexNotReadyError(SearchError, UnavailableError):
    """No index is loaded yet (or the query encoder is still loading)."""


class RerankUnavailableError(SearchError, UnavailableError):
    """rerank=true could not be served: the cross-encoder is busy or failed to load."""
