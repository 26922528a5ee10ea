"""The MCPServer: the four read-only tools and the document resource template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    InputRequiredResult,
    ListResourcesResult,
    PaginatedRequestParams,
    Resource,
    ToolAnnotations,
)
from pydantic import Field

from thoth.serve import tools
from thoth.serve.search import (
    MAX_NUM_RESULTS,
    DocumentNotFoundError,
    InvalidQueryError,
    SearchError,
    UnknownSourceError,
)
from thoth.serve.service import ThothService

INSTRUCTIONS = """Thoth searches the company handbook. Start with search_handbook for any
question about how the company works; cite the url of the passages you use. Read a whole
document with get_document, see what exists with list_sources and list_topics. Every
document is also a resource at thoth://{source}/{path}."""

DOCUMENT_MIME_TYPE = "text/markdown"
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

Query = Annotated[str, Field(description="A question or keywords, in natural language.")]
NumResults = Annotated[
    int,
    Field(
        ge=1, le=MAX_NUM_RESULTS, description=f"How many passages to return, 1-{MAX_NUM_RESULTS}."
    ),
]
Source = Annotated[
    str | None, Field(description="Only this source (see list_sources); omit for all.")
]
PathPrefix = Annotated[
    str | None, Field(description='Only documents under this folder, e.g. "engineering/".')
]
SectionContext = Annotated[
    Literal["chunk", "section"],
    Field(description='"chunk": passages only; "section": each with its enclosing section.'),
]
Rerank = Annotated[
    bool,
    Field(description="true: reorder the best passages with a cross-encoder (1-2 s slower)."),
]
Path = Annotated[str, Field(description='Document path, e.g. "people/vacation.md".')]
Prefix = Annotated[str | None, Field(description="Only folders under this prefix.")]
Offset = Annotated[int, Field(ge=0, description="Where to start reading: a next_offset, or 0.")]
MaxChars = Annotated[
    int,
    Field(
        ge=1,
        le=tools.MAX_DOCUMENT_PAGE_CHARS,
        description=f"Most characters to return, 1-{tools.MAX_DOCUMENT_PAGE_CHARS:,}.",
    ),
]


@contextmanager
def tool_errors() -> Iterator[None]:
    """A search error is the caller's to fix: report it as a tool error, with its message."""
    try:
        yield
    except SearchError as exc:
        raise ToolError(str(exc)) from exc


class ThothServer(MCPServer):
    """An MCPServer whose resources/list pages through every indexed document: the SDK's
    own lists only resources registered one at a time, and documents come and go with each
    snapshot."""

    def __init__(self, service: ThothService) -> None:
        super().__init__(
            "thoth", title="Thoth handbook search", instructions=INSTRUCTIONS, version="0.1.0"
        )
        self.service = service

    async def _handle_call_tool(
        self, ctx: ServerRequestContext[Any], params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        """An unknown tool is a protocol error (-32602), as the spec has it since 2025-11-25;
        the SDK answered it as a failed call of that tool."""
        if self._tool_manager.get_tool(params.name) is None:
            known = ", ".join(tool.name for tool in self._tool_manager.list_tools())
            raise MCPError(
                code=INVALID_PARAMS, message=f"unknown tool {params.name!r}; the tools are {known}"
            )
        return await super()._handle_call_tool(ctx, params)

    async def _handle_list_resources(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        try:
            documents, next_cursor = tools.resource_page(
                self.service.engine(), params.cursor if params else None
            )
        except InvalidQueryError as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from exc
        resources = [
            Resource(
                uri=tools.document_uri(document.source, document.path),
                name=document.path,
                title=document.title or None,
                mime_type=DOCUMENT_MIME_TYPE,
            )
            for document in documents
        ]
        return ListResourcesResult(resources=resources, next_cursor=next_cursor)


def build_server(service: ThothService) -> MCPServer:
    server = ThothServer(service)

    @server.tool(
        title="Search the handbook",
        description=tools.SEARCH_DESCRIPTION,
        annotations=READ_ONLY,
    )
    def search_handbook(
        query: Query,
        num_results: NumResults = 5,
        source: Source = None,
        path_prefix: PathPrefix = None,
        context: SectionContext = "chunk",
        rerank: Rerank = False,
    ) -> tools.SearchOutput:
        with tool_errors():
            return tools.search_handbook(
                service.engine(),
                query,
                num_results,
                source,
                path_prefix,
                context=context,
                rerank=rerank,
            )

    @server.tool(
        title="Read a handbook document",
        description=tools.GET_DOCUMENT_DESCRIPTION,
        annotations=READ_ONLY,
    )
    def get_document(
        path: Path,
        source: Source = None,
        offset: Offset = 0,
        max_chars: MaxChars = tools.DOCUMENT_PAGE_CHARS,
    ) -> tools.DocumentOutput:
        with tool_errors():
            return tools.get_document(service.engine(), path, source, offset, max_chars)

    @server.tool(
        title="List handbooks",
        description=tools.LIST_SOURCES_DESCRIPTION,
        annotations=READ_ONLY,
    )
    def list_sources() -> tools.SourcesOutput:
        with tool_errors():
            return tools.list_sources(service.engine(), service.cache.pushes)

    @server.tool(
        title="Browse handbook folders",
        description=tools.LIST_TOPICS_DESCRIPTION,
        annotations=READ_ONLY,
    )
    def list_topics(source: Source = None, prefix: Prefix = None) -> tools.TopicsOutput:
        with tool_errors():
            return tools.list_topics(service.engine(), source, prefix)

    @server.resource(
        tools.DOCUMENT_URI_TEMPLATE,
        name="handbook-document",
        title="Handbook document",
        description="The text of one handbook document (of a longer one, up to the first "
        f"{tools.MAX_DOCUMENT_PAGE_CHARS:,} characters, then a note naming the get_document "
        "call that reads on).",
        mime_type=DOCUMENT_MIME_TYPE,
    )
    def document(source: str, path: str) -> str:
        try:
            page = tools.get_document(
                service.engine(), path, source, max_chars=tools.MAX_DOCUMENT_PAGE_CHARS
            )
        except SearchError as exc:
            if isinstance(exc, DocumentNotFoundError | UnknownSourceError):
                raise ResourceNotFoundError(str(exc)) from exc
            if isinstance(exc, InvalidQueryError):  # the URI names no document it could
                raise MCPError(code=INVALID_PARAMS, message=str(exc)) from exc
            raise ResourceError(str(exc)) from exc
        if page.next_offset is None:
            return page.text
        return (
            f"{page.text}\n\n[{page.total_chars - page.next_offset:,} more characters: "
            f"get_document(path={json.dumps(page.path)}, source={json.dumps(page.source)}, "
            f"offset={page.next_offset})]\n"
        )

    return server
