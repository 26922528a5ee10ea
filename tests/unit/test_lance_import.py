"""LanceDB is imported without running its REST namespace client's package __init__, and
that __init__ still runs, whole, as soon as something asks the package for a name."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_mcp_server_imports_no_rest_api_class() -> None:
    out = run(
        """
        import sys
        import thoth.serve.mcp.app
        print(sorted(m for m in sys.modules if m.startswith("lance_namespace_urllib3_client.api")))
        print("models" in sys.modules["lance_namespace_urllib3_client"].__dict__)
        """
    )
    assert out.splitlines() == ["[]", "True"]


def test_the_deferred_init_runs_when_the_package_is_asked_for_a_name() -> None:
    out = run(
        """
        import thoth.bucket.lance
        import lance_namespace_urllib3_client as client
        print(client.ApiClient.__name__, client.BranchApi.__name__, client.__version__)
        print("__getattr__" in vars(client))
        """
    )
    assert out.splitlines() == ["ApiClient BranchApi 0.13.0", "False"]


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    out = run(
        """
        import thoth.bucket.lance
        import lance_namespace_urllib3_client as client
        try:
            client.NoSuchThing
        except AttributeError:
            print("AttributeError")
        """
    )
    assert out == "AttributeError"


def test_a_local_table_works_with_the_deferred_package(tmp_path: object) -> None:
    out = run(
        f"""
        import pyarrow as pa
        from thoth.bucket.lance import FTS, lancedb
        db = lancedb.connect({str(tmp_path)!r})
        data = pa.table({{"text": ["parental leave policy", "expenses"]}})
        table = db.create_table("t", data=data)
        table.create_index("text", config=FTS())
        print(table.search("leave", query_type="fts").limit(1).to_arrow()["text"][0].as_py())
        """
    )
    assert out == "parental leave policy"
