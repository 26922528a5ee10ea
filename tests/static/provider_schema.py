"""The google and google-beta providers' resource schemas, offline.

No Terraform here can download a provider, but the npm packages `@cdktf/provider-google` and
`@cdktf/provider-google-beta` are generated from the providers' own schemas and keep them in
their jsii type manifest (`.jsii`): per resource a `...Config` struct whose properties are the
arguments (optional or required, nested blocks as struct types), and a class whose getters
also expose the computed-only attributes. This module installs a pinned version once into
`.thoth/tools` (`npm install --prefix`), reads the manifest and caches the schemas as JSON.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("THOTH_TOOLS_DIR", ROOT / ".thoth" / "tools"))
# Provider google 6.50.0 inside both (package.json, cdktf.provider.version).
PACKAGES = {
    "google": ("@cdktf/provider-google", "16.12.1"),
    "google-beta": ("@cdktf/provider-google-beta", "16.12.1"),
}
SCHEMA_FORMAT = 1

_LINK = re.compile(r"\{@link \S+/docs/(resources|data-sources)/\S+ (\w+)\}")
_ANCHOR = re.compile(r"#(\w+)\}")


@dataclass
class Block:
    """Arguments of a resource or nested block: attribute name -> required, block name ->
    (required, schema), and attributes only the provider sets."""

    attributes: dict[str, bool] = field(default_factory=dict)
    blocks: dict[str, tuple[bool, Block]] = field(default_factory=dict)
    computed: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": self.attributes,
            "blocks": {k: [req, b.to_json()] for k, (req, b) in self.blocks.items()},
            "computed": sorted(self.computed),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Block:
        return cls(
            attributes=dict(data["attributes"]),
            blocks={k: (bool(req), cls.from_json(b)) for k, (req, b) in data["blocks"].items()},
            computed=set(data["computed"]),
        )


@dataclass
class ProviderSchema:
    name: str
    version: str
    resources: dict[str, Block]
    data_sources: dict[str, Block]


# --- installing and caching ------------------------------------------------------------------
def package_dir(provider: str) -> Path:
    return TOOLS / "node_modules" / PACKAGES[provider][0]


def install() -> None:
    """`npm install` the pinned packages into TOOLS, unless that version is there already."""
    wanted = [f"{name}@{version}" for name, version in PACKAGES.values()]
    if all(_installed_version(p) == PACKAGES[p][1] for p in PACKAGES):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed once to fetch the provider schemas (Node.js 18+)")
    TOOLS.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund"]
    subprocess.run([*command, "--ignore-scripts", "--legacy-peer-deps", *wanted], check=True)


def load(provider: str) -> ProviderSchema:
    install()
    version = _installed_version(provider)
    assert version is not None
    cache = TOOLS / f"schema-{provider}-{version}-v{SCHEMA_FORMAT}.json"
    if not cache.is_file():
        cache.write_text(json.dumps(_extract(package_dir(provider))))
    data = json.loads(cache.read_text())
    return ProviderSchema(
        name=provider,
        version=data["provider_version"],
        resources={k: Block.from_json(v) for k, v in data["resources"].items()},
        data_sources={k: Block.from_json(v) for k, v in data["data_sources"].items()},
    )


def _installed_version(provider: str) -> str | None:
    manifest = package_dir(provider) / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text())["version"])


# --- reading the jsii manifest ----------------------------------------------------------------
def _extract(directory: Path) -> dict[str, Any]:
    package = json.loads((directory / "package.json").read_text())
    types: dict[str, Any] = json.loads((directory / ".jsii").read_text())["types"]
    found: dict[str, dict[str, Any]] = {"resources": {}, "data_sources": {}}
    for fqn, spec in types.items():
        link = _LINK.search(spec.get("initializer", {}).get("docs", {}).get("summary", ""))
        if spec.get("kind") != "class" or not link or f"{fqn}Config" not in types:
            continue
        kind = "resources" if link.group(1) == "resources" else "data_sources"
        block = _block(types, f"{fqn}Config", fqn)
        found[kind][link.group(2)] = block.to_json()
    return {"provider_version": package["cdktf"]["provider"]["version"], **found}


def _block(types: dict[str, Any], struct: str, getters: str) -> Block:
    block = Block()
    for prop in types[struct].get("properties", []):
        name = _tf_name(prop)
        required = not prop.get("optional", False)
        nested = _struct_of(types, prop["type"])
        if nested:
            block.blocks[name] = (required, _block(types, nested, f"{nested}OutputReference"))
        else:
            block.attributes[name] = required
    block.computed = _computed_only(
        types.get(getters, {}), set(block.attributes) | set(block.blocks)
    )
    return block


def _computed_only(cls: dict[str, Any], arguments: set[str]) -> set[str]:
    """Getters of the resource (or block reference) class that no argument matches."""
    names = set()
    for prop in cls.get("properties", []):
        if prop.get("static") or prop["name"].endswith("Input") or prop["name"] == "internalValue":
            continue
        if prop.get("protected"):
            continue
        names.add(_snake(prop["name"]))
    return names - arguments - {"fqn", "friendly_unique_id", "terraform_resource_type"}


def _struct_of(types: dict[str, Any], typ: dict[str, Any]) -> str | None:
    """The struct a property's type holds (a block), directly, in a collection, or in a union."""
    if "fqn" in typ:
        spec = types.get(typ["fqn"], {})
        return typ["fqn"] if spec.get("datatype") else None
    if "collection" in typ:
        return _struct_of(types, typ["collection"]["elementtype"])
    for option in typ.get("union", {}).get("types", []):
        nested = _struct_of(types, option)
        if nested:
            return nested
    return None


def _tf_name(prop: dict[str, Any]) -> str:
    anchors = _ANCHOR.findall(prop.get("docs", {}).get("remarks", ""))
    return anchors[-1] if anchors else _snake(prop["name"])


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
