"""Check `terraform/**/*.tf` against the providers' schemas, as `terraform validate` would.

Every `resource` and `data` block: its type exists in the provider it uses (`provider =
google-beta` selects the beta schema), every attribute and nested block it sets exists,
no computed-only attribute is set, no required attribute or block is missing. The content of
a `dynamic` block is checked as the block it generates. Expressions are not evaluated.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

from tests.static.provider_schema import Block, ProviderSchema

OPTIONS = hcl2.SerializationOptions(
    explicit_blocks=False, strip_string_quotes=True, with_comments=False
)
# Terraform's own arguments, valid on every resource and data source.
META_ARGUMENTS = {
    "count",
    "for_each",
    "provider",
    "depends_on",
    "lifecycle",
    "provisioner",
    "connection",
}


@dataclass(frozen=True)
class Finding:
    file: str
    address: str  # e.g. google_cloud_run_v2_service.mcp.template.containers
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.address}: {self.message}"


def check_tree(root: Path, schemas: Mapping[str, ProviderSchema]) -> list[Finding]:
    findings: list[Finding] = []
    for path in sorted(root.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=OPTIONS)
        rel = str(path.relative_to(root))
        for kind, rtype, name, body in _blocks(parsed):
            findings += check_block(rel, kind, rtype, name, body, schemas)
    return findings


def check_block(
    file: str,
    kind: str,
    rtype: str,
    name: str,
    body: dict[str, Any],
    schemas: Mapping[str, ProviderSchema],
) -> list[Finding]:
    provider = _provider_of(body)
    schema = schemas.get(provider)
    address = f"{'data.' if kind == 'data' else ''}{rtype}.{name}"
    if schema is None:
        return [Finding(file, address, f"no schema for provider {provider!r}")]
    catalogue = schema.resources if kind == "resource" else schema.data_sources
    if rtype not in catalogue:
        hint = _hint(rtype, catalogue)
        return [Finding(file, address, f"{provider} {schema.version} has no {kind} {rtype}{hint}")]
    top = {k: v for k, v in body.items() if k not in META_ARGUMENTS}
    return [Finding(file, where, why) for where, why in _check(address, top, catalogue[rtype])]


def _check(address: str, body: dict[str, Any], schema: Block) -> Iterator[tuple[str, str]]:
    present = set(body)
    for dynamic in body.get("dynamic", []):
        for label, spec in dynamic.items():
            present.add(label)
            if label not in schema.blocks:
                yield (
                    address,
                    f"dynamic block {label!r} is not a block here{_hint(label, schema.blocks)}",
                )
                continue
            for content in spec.get("content", []):
                yield from _check(f"{address}.{label}", content, schema.blocks[label][1])
    for key, value in body.items():
        if key == "dynamic":
            continue
        if key in schema.blocks:
            for instance in _instances(value):
                yield from _check(f"{address}.{key}", instance, schema.blocks[key][1])
        elif key in schema.computed:
            yield address, f"{key!r} is computed by the provider and cannot be set"
        elif key not in schema.attributes:
            known = {**schema.attributes, **schema.blocks}
            yield address, f"unsupported argument {key!r}{_hint(key, known)}"
    for key, required in {
        **schema.attributes,
        **{k: r for k, (r, _) in schema.blocks.items()},
    }.items():
        if required and key not in present:
            yield address, f"required argument {key!r} is missing"


def _blocks(parsed: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for kind in ("resource", "data"):
        for entry in parsed.get(kind, []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    yield kind, rtype, name, body


def _instances(value: Any) -> list[dict[str, Any]]:
    """A nested block parses as a list of dicts; attribute syntax (`x = {...}`) as a dict."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def _provider_of(body: dict[str, Any]) -> str:
    provider = str(body.get("provider", "google")).removeprefix("${").removesuffix("}")
    return provider.split(".")[0]  # an aliased provider, google-beta.other, is still beta


def _hint(name: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
