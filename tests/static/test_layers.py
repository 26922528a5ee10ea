"""The package layout's rules, read from the source with `ast` (README, "Where each concept
lives"): layers import only downwards, every bucket key is spelled in `thoth.bucket.keys`, and
the development stack stays out of the runtime package."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "thoth"

# Each layer may import itself and the layers listed for it, nothing else of thoth's.
FOUNDATION = "foundation"
LAYERS: dict[str, set[str]] = {
    FOUNDATION: set(),
    "bucket": {FOUNDATION},
    "parsing": {FOUNDATION},
    "embedding": {FOUNDATION},
    "ingest": {FOUNDATION, "bucket", "parsing", "embedding"},
    "serve": {FOUNDATION, "bucket", "embedding"},
    "cli": {FOUNDATION, "bucket", "parsing", "embedding", "ingest", "serve", "cli"},
}
# Inside the two sides, the HTTP apps sit on top: nothing below imports them.
TOP_OF_SIDE = {"thoth.ingest.worker", "thoth.serve.mcp"}
DEVSTACK = "thoth_devstack"
DEVSTACK_DOOR = "thoth.cli.dev"  # adds `thoth dev` when the package is installed


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else FOUNDATION


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def test_the_layers_are_the_packages() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS) - {FOUNDATION}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_run_down_the_layers(module: str) -> None:
    own = layer_of(module)
    allowed = LAYERS[own] | {own}
    for target in imports(MODULES[module]):
        if target == DEVSTACK or target.startswith(DEVSTACK + "."):
            assert module == DEVSTACK_DOOR, f"{module} imports the dev stack ({target})"
            continue
        if not target.startswith("thoth.") and target != "thoth":
            continue
        assert layer_of(target) in allowed, f"{module} ({own}) imports {target}"
        for top in TOP_OF_SIDE:
            if target.startswith(top) and not module.startswith(top):
                assert own == "cli", f"{module} imports the app layer {target}"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from thoth.serve.loader import IndexCache\nimport thoth_devstack.stack\n")
    assert imports(bad) == ["thoth.serve.loader", "thoth_devstack.stack"]
    assert layer_of("thoth.serve.loader") not in LAYERS["ingest"]


# --- object keys ----------------------------------------------------------------------------
KEYS_MODULE = "thoth.bucket.keys"
KEY_LITERAL = re.compile(
    r"(^|/)(sources|registry|locks|jobs|indexes|versions|batches)/"
    r"|(current|done|job|finalize-claim)\.json|output\.npz|manifest\.json"
)
API_URLS = ("/v1/", "/tasks/")  # the worker's URLs (e.g. a job's status_url), not keys
# Literals that look like bucket keys but name something else.
NOT_BUCKET_KEYS = {
    ("thoth.secrets", "/versions/latest"),  # a Secret Manager resource name
}


def string_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    routes = {id(node) for node in ast.walk(tree) for node in _route_literals(node)}
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings | routes
    ]


ROUTE_METHODS = {"get", "put", "post", "delete", "patch", "api_route", "websocket"}


def _route_literals(node: ast.AST) -> list[ast.AST]:
    """URL paths of the HTTP apps (route decorators, router prefixes): not object keys."""
    if not isinstance(node, ast.Call):
        return []
    found: list[ast.AST] = [k.value for k in node.keywords if k.arg == "prefix"]
    if isinstance(node.func, ast.Attribute) and node.func.attr in ROUTE_METHODS and node.args:
        found.append(node.args[0])
    return found


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != KEYS_MODULE))
def test_no_object_key_is_spelled_outside_the_keys_module(module: str) -> None:
    for literal in string_literals(MODULES[module]):
        if literal.startswith(API_URLS):
            continue
        if KEY_LITERAL.search(literal) and (module, literal) not in NOT_BUCKET_KEYS:
            pytest.fail(f"{module} spells a bucket key: {literal!r} (use {KEYS_MODULE})")


def test_the_key_check_catches_a_key(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text('"""Docs may say jobs/<id>/job.json."""\nKEY = f"jobs/{1}/done.json"\n')
    found = [s for s in string_literals(sneaky) if KEY_LITERAL.search(s)]
    assert found == ["jobs/", "/done.json"]


# --- the runtime services do not load the dev stack ----------------------------------------
@pytest.mark.parametrize("app", ["thoth.ingest.worker.app", "thoth.serve.mcp.app"])
def test_services_do_not_import_the_dev_stack(app: str) -> None:
    code = f"import sys, {app}; print(sorted(m for m in sys.modules if m.startswith('{DEVSTACK}')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


# --- the README's module table ---------------------------------------------------------------
def test_the_readme_module_table_matches_the_tree() -> None:
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `thoth/(\w+)/` \|", readme, flags=re.M))
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert listed == packages
    for side in ("ingest", "serve"):
        row = readme.split(f"| `thoth/{side}/` |")[1].split("\n")[0]
        subpackages = {p.name for p in (SRC / side).iterdir() if (p / "__init__.py").exists()}
        assert set(re.findall(r"`(\w+)/`", row)) == subpackages, side
    foundation = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    row = readme.split("| foundation modules |")[1].split("\n")[0]
    assert set(re.findall(r"`(\w+)`", row)) == foundation
