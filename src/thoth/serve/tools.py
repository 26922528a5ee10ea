"""The four MCP tools as plain functions over a SearchEngine, with pydantic models for their
output (the MCP output schemas). `server` registers them; the CLI calls them too, so
`thoth search --json` prints exactly what the tool returns."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field

from thoth.bucket.pushes import LatestPush
from thoth.bucket.records import document_fields
from thoth.serve.search import MAX_NUM_RESULTS, SearchEngine, SearchMode, SearchResult
from thoth.serve.search.engine import Context, FolderDocument, Topic
from thoth.serve.search.errors import InvalidQueryError
from thoth.serve.search.rerank import CANDIDATES as RERANK_CANDIDATES
from thoth.serve.search.sections import SECTION_TOKENS
from thoth.serve.search.source_index import SourceIndex
from thoth.serve.search.stages import stage

# --- output models ------------------------------------------------------------------------


class SearchOutput(BaseModel):
    results: list[SearchResult] = Field(description="Passages, best first.")
    index_version: str = Field(
        description="The snapshot(s) searched, as source@version, comma-separated."
    )
    note: str | None = Field(
        None, description="Set when the search was narrower than asked, and why."
    )


# A server answers before its embedding model has loaded (`thoth mcp` without Cloud Run's
# startup probe), or after it failed to: a hybrid search is then keyword-only, and the
# caller should know.
KEYWORD_ONLY_NOTE = (
    "keyword matching only: the embedding model is not loaded (still loading, or it failed: "
    "see /ready); semantic matching joins in once it is"
)


# A long document is read in pages: ~25,000 tokens each by default. The largest page keeps
# an answer under Cloud Run's 32 MiB for a response of known length (HTTP/1) whatever the
# text: MCP's text content repeats the structured output, and JSON that escapes non-ASCII
# (as the SDK's json.dumps path does) turns an emoji into 24 bytes, 23 MiB a page.
DOCUMENT_PAGE_CHARS = 100_000
MAX_LISTED_FILES = 200  # list_topics' `files`: a folder's listing stays a few thousand tokens
MAX_DOCUMENT_PAGE_CHARS = 1_000_000


class DocumentOutput(BaseModel):
    """A DocumentRecord (thoth.bucket.records) as the tool returns it."""

    source: str
    path: str
    title: str
    url: str = Field(description="Link to the document in the original handbook; cite it.")
    text: str = Field(
        description="The document's extracted text from `offset`: at most max_chars "
        "characters, ending at a line break when one is near the limit."
    )
    offset: int = Field(0, description="Where `text` starts in the whole text, in characters.")
    total_chars: int = Field(0, description="Length of the whole text, in characters.")
    next_offset: int | None = Field(
        None, description="Call again with this offset to read on; null: the text is complete."
    )
    chunk_count: int
    metadata: dict[str, Any] = Field(description="Front matter and other document metadata.")
    index_version: str
    commit: str | None = Field(None, description="The source's commit it was indexed from.")
    indexed_at: datetime | None = Field(None, description="When that index was published.")


class SourceInfo(BaseModel):
    source: str
    documents: int
    chunks: int
    index_version: str
    indexed_at: datetime = Field(description="When the index was published.")
    model: str = Field(description="Embedding model the index was built with.")
    commit: str | None = Field(
        None, description="The source's commit the index was built from (GitLab sources)."
    )
    latest_push_commit: str | None = Field(
        None, description="The newest commit pushed to the source's branch that Thoth knows of."
    )
    latest_push_at: datetime | None = Field(None, description="When that push arrived.")
    behind: bool = Field(
        False, description="True when that push is newer than the index (being indexed soon)."
    )
    behind_seconds: float | None = Field(
        None, description="When behind: seconds since the push the index does not have yet."
    )


class SourcesOutput(BaseModel):
    sources: list[SourceInfo]


class TopicsOutput(BaseModel):
    topics: list[Topic] = Field(description="Folders with document counts, sorted by path.")
    documents: int = Field(description="Documents under the requested prefix.")
    files: list[FolderDocument] = Field(
        default_factory=list,
        description=f"Documents directly in the folder of `prefix` (not in its subfolders), "
        f"by path; at most {MAX_LISTED_FILES}.",
    )
    files_total: int = Field(0, description="How many such documents there are in all.")


# --- descriptions (what the model reads) ---------------------------------------------------

SEARCH_DESCRIPTION = f"""Search the company handbook and return the most relevant passages.

Use this first for any question about company policy, processes, teams or how things are done.
Combines semantic and keyword matching, so both natural questions ("how much parental leave do
we get?") and exact terms ("SOC 2", "PTO") work. Each result has the passage text plus path,
title, heading and url: cite the url when you answer. For a handbook in GitLab the url is a
permalink at the commit the passage was indexed from (`commit`, published at `indexed_at`).
Call get_document with a result's path to read the whole document.

- num_results: 1-{MAX_NUM_RESULTS} (default 5).
- source: restrict to one handbook (see list_sources); omit to search all.
- path_prefix: restrict to a folder, e.g. "engineering/" (see list_topics).
- context: "chunk" (default) returns the matching passages; "section" also fills each result's
  `section` with the whole heading section the passage sits in (at most about
  {SECTION_TOKENS:,} tokens, cut around the passage), one result per section: use it when a
  passage alone looks cut short.
- rerank: true re-reads the best {RERANK_CANDIDATES} passages with a cross-encoder and reorders
  them (results beyond them follow in their order, score 0): better ranking, for about 1-2 s
  more per call. Use it when the first results miss; the default (false) answers in
  milliseconds. Keep the default for a question that excludes something ("not X",
  "excluding Y"): the cross-encoder reads past it.

A question with two parts, or one that chains two facts ("who approves the budget of the
team that runs on-call?"), is best searched one part at a time: one search tends to fill its
results with the part that shares most words with the question, and the other part's passage
lands below them.

Queries longer than 1000 characters are truncated; an empty query is an error. A `note` in
the output says when a search was narrower than asked (keyword-only while the server's
embedding model is not loaded)."""

GET_DOCUMENT_DESCRIPTION = """Return one handbook document with its title, url and metadata,
and its text from `offset`: all of the rest when it is no longer than `max_chars` (default
100,000 characters), else one page, with `next_offset` to pass as `offset` for the next.
Use a `path` from search_handbook results or from list_topics' `files`. If the path does not
exist the error lists the closest existing paths."""

LIST_SOURCES_DESCRIPTION = """List the handbooks (sources) that can be searched, with their
document and passage counts, the index version and when it was built. For a handbook in
GitLab: the commit the index was built from, the latest push Thoth knows of, and whether (and
for how many seconds) the index is behind that push."""

LIST_TOPICS_DESCRIPTION = f"""Browse the handbook's folder structure: folders (two levels below
`prefix`) with how many documents each holds, and the documents directly in `prefix`'s folder
(`files`: path and title, at most {MAX_LISTED_FILES}; `files_total` counts them all;
"people" and "people/" both mean the folder people/). Use a
folder as search_handbook's path_prefix to narrow a search, a file's path with get_document,
or both to see what the handbook covers."""


# --- the tools ----------------------------------------------------------------------------


def _versions(engine: SearchEngine, source: str | None) -> str:
    names = [source] if source else sorted(engine.indexes)
    return ", ".join(f"{n}@{engine.indexes[n].version}" for n in names if n in engine.indexes)


def search_handbook(
    engine: SearchEngine,
    query: str,
    num_results: int = 5,
    source: str | None = None,
    path_prefix: str | None = None,
    mode: SearchMode = "hybrid",
    context: Context = "chunk",
    rerank: bool = False,
) -> SearchOutput:
    # The whole search in process CPU: with one request at a time it also counts the full
    # text's native threads, which the per-stage thread clocks cannot see.
    with stage("search", clock=time.process_time):
        results = engine.search(
            query,
            num_results=num_results,
            source=source,
            path_prefix=path_prefix,
            mode=mode,
            context=context,
            rerank=rerank,
        )
    note = KEYWORD_ONLY_NOTE if mode == "hybrid" and engine.encoder is None else None
    with stage("output"):
        return SearchOutput(results=results, index_version=_versions(engine, source), note=note)


def get_document(
    engine: SearchEngine,
    path: str,
    source: str | None = None,
    offset: int = 0,
    max_chars: int = DOCUMENT_PAGE_CHARS,
) -> DocumentOutput:
    if not 1 <= max_chars <= MAX_DOCUMENT_PAGE_CHARS:
        raise InvalidQueryError(f"max_chars must be 1-{MAX_DOCUMENT_PAGE_CHARS:,}")
    document = engine.get_document(path, source)
    fields = document_fields(document)
    del fields["file_hash"]  # an ingestion detail, not for the assistant
    whole = fields.pop("text")
    if not 0 <= offset <= len(whole):
        raise InvalidQueryError(
            f"offset must be 0-{len(whole):,}: {document.path} has {len(whole):,} characters"
        )
    text, next_offset = text_page(whole, offset, max_chars)
    index = engine.indexes[document.source]
    return DocumentOutput(
        **fields,
        text=text,
        offset=offset,
        total_chars=len(whole),
        next_offset=next_offset,
        index_version=index.version,
        commit=index.commit,
        indexed_at=index.indexed_at,
    )


def text_page(text: str, offset: int, max_chars: int) -> tuple[str, int | None]:
    """At most `max_chars` of `text` from `offset`, cut after a line break in the last half of
    the page when there is one, and where the next page starts (None: this one is the last)."""
    end = offset + max_chars
    if end >= len(text):
        return text[offset:], None
    newline = text.rfind("\n", offset + max_chars // 2, end)
    if newline >= 0:
        end = newline + 1
    return text[offset:end], end


def list_sources(
    engine: SearchEngine, pushes: Mapping[str, LatestPush] | None = None
) -> SourcesOutput:
    pushes = pushes or {}
    now = datetime.now(UTC)
    return SourcesOutput(
        sources=[
            SourceInfo(
                source=name,
                documents=index.manifest.documents,
                chunks=index.manifest.chunks,
                index_version=index.version,
                indexed_at=index.indexed_at,
                model=index.manifest.model,
                commit=index.commit,
                **_freshness(index, pushes.get(name), now),
            )
            for name, index in sorted(engine.indexes.items())
        ]
    )


def _freshness(index: SourceIndex, push: LatestPush | None, now: datetime) -> dict[str, Any]:
    """Behind: the latest push names another commit and arrived after the index's commit was
    chosen (an older push of another commit is one the index already went past)."""
    if push is None:
        return {}
    seen_at = index.commit_seen_at or index.indexed_at
    behind = push.commit != index.commit and push.pushed_at > seen_at
    return {
        "latest_push_commit": push.commit,
        "latest_push_at": push.pushed_at,
        "behind": behind,
        "behind_seconds": round((now - push.pushed_at).total_seconds(), 3) if behind else None,
    }


DOCUMENT_URI_TEMPLATE = "thoth://{source}/{+path}"
RESOURCES_PAGE = 500  # documents per resources/list page


def document_uri(source: str, path: str) -> str:
    """The resource URI of a document; the template's match decodes what is escaped here."""
    return f"thoth://{quote(source, safe='')}/{quote(path, safe='/')}"


def resource_page(
    engine: SearchEngine, cursor: str | None
) -> tuple[list[FolderDocument], str | None]:
    """One page of every loaded document, for resources/list, and the cursor of the next
    page (None: this is the last). A cursor is the position the next page starts at."""
    start = 0
    if cursor is not None:
        if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 12):
            raise InvalidQueryError("invalid cursor: pass a nextCursor from resources/list")
        start = int(cursor)
    documents, total = engine.document_page(start, RESOURCES_PAGE)
    end = start + RESOURCES_PAGE
    return documents, str(end) if end < total else None


def list_topics(
    engine: SearchEngine, source: str | None = None, prefix: str | None = None
) -> TopicsOutput:
    topics = engine.topics(source, prefix)
    total = engine.documents_under(source, prefix)
    files, files_total = engine.folder_documents(source, prefix, MAX_LISTED_FILES)
    return TopicsOutput(topics=topics, documents=total, files=files, files_total=files_total)
