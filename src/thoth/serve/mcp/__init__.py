"""The MCP service (design.md §6): read-only tools over the loaded indexes, served over stateless
Streamable HTTP (FastAPI app in `app`) or stdio (`stdio`)."""
