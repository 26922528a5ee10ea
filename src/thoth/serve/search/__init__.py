"""Hybrid search over loaded snapshots (design.md §5): dense vectors in memory, BM25 full text
from the snapshot's LanceDB index, fused by weighted min-max (fusion.py)."""

from thoth.serve.limits import MAX_NUM_RESULTS, MAX_QUERY_CHARS
from thoth.serve.search.engine import (
    QueryEncoder,
    SearchEngine,
    SearchMode,
    SearchResult,
)
from thoth.serve.search.errors import (
    DocumentNotFoundError,
    IndexNotReadyError,
    InvalidQueryError,
    RerankUnavailableError,
    SearchError,
    UnknownSourceError,
)
from thoth.serve.search.rerank import Reranker
from thoth.serve.search.source_index import SourceIndex

__all__ = [
    "MAX_NUM_RESULTS",
    "MAX_QUERY_CHARS",
    "DocumentNotFoundError",
    "IndexNotReadyError",
    "InvalidQueryError",
    "QueryEncoder",
    "RerankUnavailableError",
    "Reranker",
    "SearchEngine",
    "SearchError",
    "SearchMode",
    "SearchResult",
    "SourceIndex",
    "UnknownSourceError",
]
