"""LanceDB, imported without running its REST namespace client's package `__init__`.

LanceDB imports `lance_namespace`, which imports `lance_namespace_urllib3_client.models`;
Python first runs that package's `__init__`, and it imports every generated REST API class
of LanceDB's namespace server: ~1.0 s of the MCP server's ~3.5 s of imports on the 2-vCPU
machine (`python -X importtime`, measured). Thoth only opens local tables. The package is
registered first with its `__init__` deferred: its submodules (`models`) import as usual, and
the `__init__` runs only if something asks the package itself for a name (a REST namespace
client would), so nothing is lost, only moved off the import path.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

NAMESPACE_CLIENT = "lance_namespace_urllib3_client"


def defer_init(name: str) -> None:
    """Register package `name` with its `__init__` deferred; nothing when it is already
    imported, not installed, or not a package."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def run_init(attribute: str) -> Any:
        del module.__dict__["__getattr__"]
        loader.exec_module(module)
        return getattr(module, attribute)

    module.__dict__["__getattr__"] = run_init
    sys.modules[name] = module


defer_init(NAMESPACE_CLIENT)

import lancedb  # noqa: E402  (after defer_init, which is the point)
from lancedb.index import FTS  # noqa: E402

__all__ = ["FTS", "lancedb"]
