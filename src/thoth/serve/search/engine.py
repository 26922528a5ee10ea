"""Hybrid search across the loaded sources, plus the document and topic look-ups the MCP
tools need. A SearchEngine is a cheap view over one immutable mapping of SourceIndexes: make
one per request from the loader's current mapping, and a concurrent swap cannot tear it.

Query rules (also in the tool descriptions): an empty or blank query is refused; a query
longer than MAX_QUERY_CHARS is cut to that length (the embedding model reads at most 256 word
pieces anyway); num_results must be 1..MAX_NUM_RESULTS; filters apply before ranking.

Scores: `dense` is cosine similarity; `fulltext` is BM25 over the chunk's title, heading path
and text; `hybrid` is 0.5 x the min-max normalised cosine + 0.5 x the min-max normalised BM25
over each ranker's candidates, so a chunk ranked first by both scores 1.0. With rerank=True
a cross-encoder then reorders the best candidates (rerank.py), and scores are its blend.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import logging
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from thoth.bucket.records import DocumentRecord
from thoth.serve.limits import MAX_NUM_RESULTS, MAX_PATH_CHARS, MAX_QUERY_CHARS
from thoth.serve.search.errors import (
    DocumentNotFoundError,
    IndexNotReadyError,
    InvalidQueryError,
    RerankUnavailableError,
    SearchError,
    UnknownSourceError,
)
from thoth.serve.search.fusion import weighted_minmax_fusion
from thoth.serve.search.rerank import CANDIDATES, Reranker, reranked, shown_text
from thoth.serve.search.sections import SECTION_TOKENS, section_rows, section_text
from thoth.serve.search.source_index import Candidate, SourceIndex
from thoth.serve.search.stages import in_context, stage

log = logging.getLogger(__name__)

SearchMode = Literal["hybrid", "dense", "fulltext"]
Context = Literal["chunk", "section"]
MIN_DEPTH = 50  # candidates per ranker before fusion
DENSE_WEIGHT = 0.5  # chosen on bench/quality.py's dev split (README, Performance and quality)


class QueryEncoder(Protocol):
    """What search needs from the embedding model (thoth.embedding.Embedder has it)."""

    def encode_query(self, text: str) -> npt.NDArray[np.float32]: ...


class SearchResult(BaseModel):
    """One passage, with what is needed to cite it."""

    path: str = Field(description="Path of the document within its source.")
    title: str = Field(description="Document title.")
    heading: str = Field(description="Heading path of the passage, joined with ' > '.")
    url: str = Field(
        description="Link to the passage in the original handbook: for GitLab sources a "
        "permalink at `commit`, to the passage's heading."
    )
    score: float = Field(description="Relevance; higher is better (hybrid: 1.0 = top of both).")
    text: str = Field(description="The passage text.")
    chunk_id: str = Field(description="Stable id of the passage.")
    source: str = Field(description="The source (handbook) the document belongs to.")
    section: str | None = Field(
        default=None,
        description=(
            "With context='section': the text of the heading section the passage sits in, "
            f"at most about {SECTION_TOKENS:,} tokens around the passage; else null."
        ),
    )
    commit: str | None = Field(
        None, description="The source's commit the passage was indexed from (GitLab sources)."
    )
    indexed_at: datetime | None = Field(None, description="When that index was published.")


class Topic(BaseModel):
    """A folder of documents."""

    path: str = Field(description="Folder path, ending with '/'; use it as path_prefix.")
    documents: int = Field(description="Documents in this folder and below.")


class FolderDocument(BaseModel):
    """A document that sits directly in a folder."""

    path: str = Field(description="Document path: pass it to get_document.")
    title: str = Field(description="Its title (empty when it has no text).")
    source: str = Field(description="The source (handbook) it belongs to.")


class SearchEngine:
    """Search and look-ups over a fixed set of loaded sources."""

    def __init__(
        self,
        indexes: Mapping[str, SourceIndex],
        encoder: QueryEncoder | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.indexes = dict(indexes)
        self.encoder = encoder
        self.reranker = reranker

    # --- scope ----------------------------------------------------------------------
    def _scope(self, source: str | None) -> list[SourceIndex]:
        if not self.indexes:
            raise IndexNotReadyError("no index is loaded yet; try again shortly")
        if source is None or source == "":
            return [self.indexes[name] for name in sorted(self.indexes)]
        if source not in self.indexes:
            named = repr(source) if len(source) <= 100 else f"of {len(source):,} characters"
            raise UnknownSourceError(
                f"unknown source {named}; available sources: {', '.join(sorted(self.indexes))}"
            )
        return [self.indexes[source]]

    def _check_prefix(self, scope: list[SourceIndex], prefix: str | None) -> None:
        if prefix and not any(index.has_prefix(prefix) for index in scope):
            folders = sorted({t.path for index in scope for t in _topics(index, None, 1)})
            where = ", ".join(index.source for index in scope)
            raise InvalidQueryError(
                f"no document path starts with {prefix!r} in {where}; top-level folders: "
                f"{', '.join(folders[:30]) or '(none)'}"
            )

    # --- search ---------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        num_results: int = 5,
        source: str | None = None,
        path_prefix: str | None = None,
        mode: SearchMode = "hybrid",
        context: Context = "chunk",
        rerank: bool = False,
    ) -> list[SearchResult]:
        """The best `num_results` passages for `query`, best first; with context="section",
        each with its enclosing section, one result per section; with rerank, reordered by
        the cross-encoder."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidQueryError("query is empty; pass a question or a few keywords")
        query = query.strip()[:MAX_QUERY_CHARS]
        if not 1 <= num_results <= MAX_NUM_RESULTS:
            raise InvalidQueryError(f"num_results must be 1..{MAX_NUM_RESULTS}, got {num_results}")
        if mode not in get_args(SearchMode):
            raise InvalidQueryError(f"mode must be one of {get_args(SearchMode)}, got {mode!r}")
        if context not in get_args(Context):
            raise InvalidQueryError(f"context must be one of {get_args(Context)}, got {context!r}")
        if not isinstance(rerank, bool):
            raise InvalidQueryError(f"rerank must be true or false, got {rerank!r}")
        if rerank and self.reranker is None:
            raise InvalidQueryError("rerank is not available on this server (no cross-encoder)")
        scope, prefix = self._folder_scope(source, path_prefix)
        if mode != "fulltext" and self.encoder is None:
            if mode == "dense":
                raise IndexNotReadyError("the embedding model is not loaded yet")
            mode = "fulltext"

        depth = max(MIN_DEPTH, 2 * num_results)
        dense: list[Candidate] = []
        fulltext: list[Candidate] = []
        pending: Future[list[Candidate]] | None = None
        if mode == "hybrid":
            # BM25 (Lance, native code, GIL released) runs on another core while the query
            # is embedded: ~3 ms off a single request's latency on 2 vCPUs.
            pending = _fulltext_pool().submit(in_context(_fulltext), scope, query, depth, prefix)
        if mode in ("hybrid", "dense"):
            assert self.encoder is not None
            with stage("encode"):
                vector = np.asarray(self.encoder.encode_query(query), dtype=np.float32)
            with stage("dense"):
                # Dense alone scans every vector: nothing would make up for what probing
                # cells misses (test split, cells forced: dense R@5 0.678 -> 0.626).
                dense = _dense(scope, vector, depth, prefix, exact=mode == "dense")
        if pending is not None:
            fulltext = pending.result()
            with stage("dense"):
                dense = _completed(scope, vector, dense, fulltext, depth)
        elif mode == "fulltext":
            fulltext = _fulltext(scope, query, depth, prefix)

        with stage("fusion"):
            ranked = _fuse(mode, dense, fulltext)
        if rerank:
            with stage("rerank"):
                ranked = self._reranked(query, ranked, CANDIDATES)
        with stage("results"):
            if context == "section":
                return self._with_sections(ranked, num_results)
            return [self._result(name, row, score) for (name, row), score in ranked[:num_results]]

    def _reranked(
        self, query: str, ranked: list[tuple[tuple[str, int], float]], cut: int
    ) -> list[tuple[tuple[str, int], float]]:
        assert self.reranker is not None  # search() refuses rerank without one

        def text_of(key: tuple[str, int]) -> str:
            index, row = self.indexes[key[0]], key[1]
            return shown_text(index.titles[row], index.headings[row], index.texts[row])

        try:
            return reranked(query, ranked, cut, text_of, self.reranker)
        except TimeoutError as exc:  # busy with another caller's rerank: say for how long
            raise RerankUnavailableError(
                f"rerank is unavailable just now ({exc}); retry, or search without rerank"
            ) from exc
        except Exception as exc:  # the model would not load: its error (paths) stays here
            log.exception("rerank failed")
            raise RerankUnavailableError(
                "rerank is unavailable (the cross-encoder failed; see the server log); "
                "search without rerank"
            ) from exc

    def _with_sections(
        self, ranked: list[tuple[tuple[str, int], float]], num_results: int
    ) -> list[SearchResult]:
        """The best chunk of each of the first `num_results` sections, with the section."""
        seen: set[tuple[str, int]] = set()
        results: list[SearchResult] = []
        for (name, row), score in ranked:
            index = self.indexes[name]
            rows = section_rows(index.paths, index.headings, row)
            if (name, rows.start) in seen:
                continue
            seen.add((name, rows.start))
            section = section_text(index.texts, rows, row)
            results.append(self._result(name, row, score, section))
            if len(results) == num_results:
                break
        return results

    def _result(
        self, source: str, row: int, score: float, section: str | None = None
    ) -> SearchResult:
        index = self.indexes[source]
        return SearchResult(
            path=index.paths[row],
            title=index.titles[row],
            heading=index.headings[row],
            url=index.urls[row],
            score=round(score, 6),
            text=index.texts[row],
            chunk_id=index.chunk_ids[row],
            source=source,
            section=section,
            commit=index.commit,
            indexed_at=index.indexed_at,
        )

    # --- documents and topics ---------------------------------------------------------
    def get_document(self, path: str, source: str | None = None) -> DocumentRecord:
        """The whole document at `path`; DocumentNotFoundError with the closest paths."""
        scope = self._scope(source)
        wanted = bounded_path(path, "path").strip().lstrip("/")
        for index in scope:
            document = index.document(wanted)
            if document is not None:
                return document
        candidates = [p for index in scope for p in index.document_paths]
        suggestions = closest_paths(wanted, candidates)
        hint = f"; closest paths: {', '.join(suggestions)}" if suggestions else ""
        raise DocumentNotFoundError(f"no document at path {path!r}{hint}", suggestions)

    def topics(self, source: str | None = None, prefix: str | None = None) -> list[Topic]:
        """Folders (two levels below `prefix`) with their document counts."""
        scope, prefix = self._folder_scope(source, prefix)
        counts: dict[str, int] = {}
        for index in scope:
            for topic in _topics(index, prefix, 2):
                counts[topic.path] = counts.get(topic.path, 0) + topic.documents
        return [Topic(path=p, documents=n) for p, n in sorted(counts.items())]

    def document_page(self, start: int, size: int) -> tuple[list[FolderDocument], int]:
        """Documents `start` to `start + size` of all loaded sources, ordered by source and
        then path, and how many there are in all (none before an index is loaded)."""
        listed: list[FolderDocument] = []
        total = 0
        for name in sorted(self.indexes):
            index = self.indexes[name]
            paths = index.document_paths[max(0, start - total) : max(0, start + size - total)]
            listed += [FolderDocument(path=p, title=index.title_of(p), source=name) for p in paths]
            total += len(index.document_paths)
        return listed, total

    def documents_under(self, source: str | None = None, prefix: str | None = None) -> int:
        """How many documents `prefix` holds, read as topics() and folder_documents() read it."""
        scope, prefix = self._folder_scope(source, prefix)
        return sum(len(_paths_under(index, prefix)) for index in scope)

    def _folder_scope(
        self, source: str | None, prefix: str | None
    ) -> tuple[list[SourceIndex], str | None]:
        """The indexes to browse and the prefix checked, "people" read as the folder
        "people/" when there is one (not also "people-group/")."""
        scope = self._scope(source)
        prefix = normalise_prefix(prefix)
        self._check_prefix(scope, prefix)
        if prefix and not prefix.endswith("/") and any(i.has_prefix(prefix + "/") for i in scope):
            prefix += "/"
        return scope, prefix

    def folder_documents(
        self, source: str | None = None, prefix: str | None = None, limit: int = 200
    ) -> tuple[list[FolderDocument], int]:
        """The first `limit` documents (by path) directly in the folder `prefix` names, not
        in its subfolders, and how many there are: "people" and "people/" both name
        people/ when that folder exists, "people/va" the documents of people/ starting so;
        without a prefix, the top level."""
        scope, prefix = self._folder_scope(source, prefix)
        base = _folder_of(prefix)
        found = sorted(
            (path, index.source, index)
            for index in scope
            for path in _paths_under(index, prefix)
            if "/" not in path[len(base) :]
        )
        listed = [
            FolderDocument(path=path, title=index.title_of(path), source=name)
            for path, name, index in found[:limit]
        ]
        return listed, len(found)


def _dense(
    scope: list[SourceIndex],
    vector: npt.NDArray[np.float32],
    depth: int,
    prefix: str | None,
    *,
    exact: bool,
) -> list[Candidate]:
    found: list[Candidate] = []
    for index in scope:
        if vector.shape != (index.dimensions,):
            raise SearchError(
                f"source {index.source!r} was indexed with {index.manifest.model} "
                f"({index.dimensions} dims) but the query encoder gives {vector.shape}"
            )
        found.extend(index.dense(vector, depth, prefix, exact=exact))
    found.sort(key=lambda c: -c.score)
    return found[:depth]


def _completed(
    scope: list[SourceIndex],
    vector: npt.NDArray[np.float32],
    dense: list[Candidate],
    fulltext: list[Candidate],
    depth: int,
) -> list[Candidate]:
    """The dense candidates, with every full-text candidate of a source with cells that
    probing skipped ranked by its exact cosine too. A full scan would have ranked it among
    the first `depth` if it belongs there, so this changes nothing without cells; with them,
    on the dev split, hybrid recall@5 fell 0.779 -> 0.758 without it (docs/performance.md,
    "Cells")."""
    indexes = {index.source: index for index in scope if index.dense_index.cells}
    seen = {(c.source, c.row) for c in dense}
    missing: dict[str, list[int]] = {}
    for c in fulltext:
        if c.source in indexes and (c.source, c.row) not in seen:
            missing.setdefault(c.source, []).append(c.row)
    if not missing:
        return dense
    found = list(dense)
    for source, rows in missing.items():
        scores = indexes[source].cosine(rows, vector)
        found.extend(Candidate(source, r, s) for r, s in zip(rows, scores, strict=True))
    found.sort(key=lambda c: -c.score)
    return found[:depth]


def _fulltext(
    scope: list[SourceIndex], query: str, depth: int, prefix: str | None
) -> list[Candidate]:
    with stage("fulltext"):
        found: list[Candidate] = []
        for index in scope:
            found.extend(index.fulltext(query, depth, prefix))
        found.sort(key=lambda c: -c.score)
        return found[:depth]


def _fuse(
    mode: SearchMode, dense: list[Candidate], fulltext: list[Candidate]
) -> list[tuple[tuple[str, int], float]]:
    if mode == "dense":
        return [((c.source, c.row), c.score) for c in dense]
    if mode == "fulltext":
        return [((c.source, c.row), c.score) for c in fulltext]
    return weighted_minmax_fusion(
        [
            [((c.source, c.row), c.score) for c in dense],
            [((c.source, c.row), c.score) for c in fulltext],
        ],
        (DENSE_WEIGHT, 1.0 - DENSE_WEIGHT),
    )


@functools.cache
def _fulltext_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="thoth-fts")


def _folder_of(prefix: str | None) -> str:
    """The folder a prefix names or ends in: "people/" for "people/" and "people/va"."""
    base = prefix or ""
    return base[: base.rfind("/") + 1]


def _paths_under(index: SourceIndex, prefix: str | None) -> list[str]:
    paths = index.document_paths
    if not prefix:
        return paths
    lo = bisect.bisect_left(paths, prefix)
    return paths[lo : bisect.bisect_left(paths, prefix + "\U0010ffff", lo=lo)]


def _topics(index: SourceIndex, prefix: str | None, depth: int) -> list[Topic]:
    base = _folder_of(prefix)
    counts: dict[str, int] = {}
    for path in _paths_under(index, prefix):
        parts = path[len(base) :].split("/")[:-1]
        for level in range(min(depth, len(parts))):
            folder = base + "/".join(parts[: level + 1]) + "/"
            counts[folder] = counts.get(folder, 0) + 1
    return [Topic(path=p, documents=n) for p, n in counts.items()]


def bounded_path(value: str, what: str) -> str:
    """`value` when it is short enough to be a document path (nothing longer is echoed)."""
    if len(value) > MAX_PATH_CHARS:
        raise InvalidQueryError(
            f"{what} is {len(value):,} characters long; paths have at most {MAX_PATH_CHARS:,}"
        )
    return value


def normalise_prefix(prefix: str | None) -> str | None:
    if prefix is None:
        return None
    prefix = bounded_path(prefix, "prefix").strip().lstrip("/")
    return prefix or None


def closest_paths(path: str, candidates: list[str], n: int = 5) -> list[str]:
    """Near misses first by whole path, then by file name."""
    found = difflib.get_close_matches(path, candidates, n=n, cutoff=0.5)
    if len(found) < n:
        name = path.rsplit("/", 1)[-1]
        by_name = {c.rsplit("/", 1)[-1]: c for c in candidates}
        for match in difflib.get_close_matches(name, list(by_name), n=n, cutoff=0.6):
            if by_name[match] not in found:
                found.append(by_name[match])
    return found[:n]
