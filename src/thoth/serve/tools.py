"""The four MCP tools as plain functions over a SearchEngine, with pydantic models for their
output (the MCP output schemas). `server` registers them; the CLI calls them too, so
`thoth search --json` prints exactly what the tool returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from thoth.bucket.records import document_fields
from thoth.serve.search import MAX_NUM_RESULTS, SearchEngine, SearchMode, SearchResult
from thoth.serve.search.engine import Context, Topic
from thoth.serve.search.sections import SECTION_TOKENS

# --- output models ------------------------------------------------------------------------


class SearchOutput(BaseModel):
    results: list[SearchResult] = Field(description="Passages, best first.")
    index_version: str = Field(
        description="The snapshot(s) searched, as source@version, comma-separated."
    )


class DocumentOutput(BaseModel):
    """A DocumentRecord (thoth.bucket.records) as the tool returns it."""

    source: str
    path: str
    title: str
    url: str = Field(description="Link to the document in the original handbook; cite it.")
    text: str = Field(description="The whole extracted text of the document.")
    chunk_count: int
    metadata: dict[str, Any] = Field(description="Front matter and other document metadata.")
    index_version: str


class SourceInfo(BaseModel):
    source: str
    documents: int
    chunks: int
    index_version: str
    indexed_at: datetime
    model: str = Field(description="Embedding model the index was built with.")


class SourcesOutput(BaseModel):
    sources: list[SourceInfo]


class TopicsOutput(BaseModel):
    topics: list[Topic] = Field(description="Folders with document counts, sorted by path.")
    documents: int = Field(description="Documents under the requested prefix.")


# --- descriptions (what the model reads) ---------------------------------------------------

SEARCH_DESCRIPTION = f"""Search the company handbook and return the most relevant passages.

Use this first for any question about company policy, processes, teams or how things are done.
Combines semantic and keyword matching, so both natural questions ("how much parental leave do
we get?") and exact terms ("SOC 2", "PTO") work. Each result has the passage text plus path,
title, heading and url: cite the url when you answer. Call get_document with a result's path
to read the whole document.

- num_results: 1-{MAX_NUM_RESULTS} (default 5).
- source: restrict to one handbook (see list_sources); omit to search all.
- path_prefix: restrict to a folder, e.g. "engineering/" (see list_topics).
- context: "chunk" (default) returns the matching passages; "section" also fills each result's
  `section` with the whole heading section the passage sits in (at most about
  {SECTION_TOKENS:,} tokens, cut around the passage), one result per section: use it when a
  passage alone looks cut short.
Queries longer than 1000 characters are truncated; an empty query is an error."""

GET_DOCUMENT_DESCRIPTION = """Return one handbook document in full, with its title, url and
metadata. Use a `path` from search_handbook results or list_topics. If the path does not exist
the error lists the closest existing paths."""

LIST_SOURCES_DESCRIPTION = """List the handbooks (sources) that can be searched, with their
document and passage counts, the index version and when it was built."""

LIST_TOPICS_DESCRIPTION = """Browse the handbook's folder structure: folders (two levels below
`prefix`) with how many documents each holds. Use a folder as search_handbook's path_prefix to
narrow a search, or to see what the handbook covers."""


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
) -> SearchOutput:
    results = engine.search(
        query,
        num_results=num_results,
        source=source,
        path_prefix=path_prefix,
        mode=mode,
        context=context,
    )
    return SearchOutput(results=results, index_version=_versions(engine, source))


def get_document(engine: SearchEngine, path: str, source: str | None = None) -> DocumentOutput:
    document = engine.get_document(path, source)
    fields = document_fields(document)
    del fields["file_hash"]  # an ingestion detail, not for the assistant
    return DocumentOutput(**fields, index_version=engine.indexes[document.source].version)


def list_sources(engine: SearchEngine) -> SourcesOutput:
    return SourcesOutput(
        sources=[
            SourceInfo(
                source=name,
                documents=index.manifest.documents,
                chunks=index.manifest.chunks,
                index_version=index.version,
                indexed_at=index.indexed_at,
                model=index.manifest.model,
            )
            for name, index in sorted(engine.indexes.items())
        ]
    )


def list_topics(
    engine: SearchEngine, source: str | None = None, prefix: str | None = None
) -> TopicsOutput:
    topics = engine.topics(source, prefix)
    scope = [source] if source else list(engine.indexes)
    wanted = (prefix or "").strip().lstrip("/")
    total = sum(
        1
        for name in scope
        for path in engine.indexes[name].document_paths
        if path.startswith(wanted)
    )
    return TopicsOutput(topics=topics, documents=total)
