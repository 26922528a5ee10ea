"""terraform/ against the real google and google-beta provider schemas, without a network
beyond one `npm install` (tests/static/provider_schema.py): the offline half of
`terraform validate`. Run by scripts/static-checks.sh (make static, .ci/run)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import hcl2
import pytest

from tests.static import provider_schema
from tests.static.provider_schema import ProviderSchema
from tests.static.terraform_checker import OPTIONS, check_tree

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "terraform"
MCP_MODULE = Path("modules/mcp/main.tf")


@pytest.fixture(scope="module")
def schemas() -> dict[str, ProviderSchema]:
    return {name: provider_schema.load(name) for name in provider_schema.PACKAGES}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / "terraform"
    shutil.copytree(TF, copy, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    return copy


def edit(tree: Path, rel: Path, old: str, new: str) -> None:
    path = tree / rel
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must appear once in {rel}"
    path.write_text(text.replace(old, new))


def messages(tree: Path, schemas: dict[str, ProviderSchema]) -> list[str]:
    return [str(finding) for finding in check_tree(tree, schemas)]


def test_every_resource_and_attribute_exists_in_the_provider_schema(
    schemas: dict[str, ProviderSchema],
) -> None:
    assert messages(TF, schemas) == []


def test_the_schemas_are_the_provider_versions_terraform_will_use(
    schemas: dict[str, ProviderSchema],
) -> None:
    constraints = required_provider_versions()
    assert set(constraints) == set(schemas), constraints
    for name, schema in schemas.items():
        assert satisfies(schema.version, constraints[name]), (name, schema.version)


def test_a_misspelt_attribute_is_reported(tree: Path, schemas: dict[str, ProviderSchema]) -> None:
    edit(tree, MCP_MODULE, "max_instance_count = 3", "max_instances_count = 3")
    assert messages(tree, schemas) == [
        f"{MCP_MODULE}: google_cloud_run_v2_service.mcp.template.scaling: unsupported argument "
        "'max_instances_count' (did you mean 'max_instance_count'?)"
    ]


def test_a_misspelt_resource_type_is_reported(
    tree: Path, schemas: dict[str, ProviderSchema]
) -> None:
    edit(
        tree,
        MCP_MODULE,
        '"google_cloud_run_v2_service" "mcp"',
        '"google_cloud_run_v2_servce" "mcp"',
    )
    assert messages(tree, schemas) == [
        f"{MCP_MODULE}: google_cloud_run_v2_servce.mcp: google 6.50.0 has no resource "
        "google_cloud_run_v2_servce (did you mean 'google_cloud_run_v2_service'?)"
    ]


def test_setting_a_computed_only_attribute_is_reported(
    tree: Path, schemas: dict[str, ProviderSchema]
) -> None:
    edit(
        tree,
        MCP_MODULE,
        "  ingress             = ",
        '  uri                 = "x"\n  ingress             = ',
    )
    assert messages(tree, schemas) == [
        f"{MCP_MODULE}: google_cloud_run_v2_service.mcp: 'uri' is computed by the provider "
        "and cannot be set"
    ]


def test_a_missing_required_attribute_is_reported(
    tree: Path, schemas: dict[str, ProviderSchema]
) -> None:
    edit(tree, MCP_MODULE, "      image = var.image\n", "")
    assert messages(tree, schemas) == [
        f"{MCP_MODULE}: google_cloud_run_v2_service.mcp.template.containers: "
        "required argument 'image' is missing"
    ]


def test_dynamic_block_content_is_checked(tree: Path, schemas: dict[str, ProviderSchema]) -> None:
    edit(tree, MCP_MODULE, "              secret  = env.value", "              secrett = env.value")
    found = messages(tree, schemas)
    assert len(found) == 2, found  # the misspelling, and so the required `secret` is missing
    assert (
        "template.containers.env.value_source.secret_key_ref: unsupported argument 'secrett'"
        in found[0]
    )
    assert "required argument 'secret' is missing" in found[1]


def test_a_beta_only_resource_needs_the_beta_provider(
    tree: Path, schemas: dict[str, ProviderSchema]
) -> None:
    assert "google_project_service_identity" not in schemas["google"].resources
    edit(tree, Path("modules/ingestion/main.tf"), "  provider = google-beta\n", "")
    found = messages(tree, schemas)
    assert (
        len(found) == 1
        and "google 6.50.0 has no resource google_project_service_identity" in found[0]
    )


# --- version constraints -----------------------------------------------------------------------
def required_provider_versions() -> dict[str, str]:
    """Provider name -> version constraint, from the root module's `required_providers`."""
    found: dict[str, str] = {}
    for path in sorted(TF.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=OPTIONS)
        for block in parsed.get("terraform", []):
            for providers in block.get("required_providers", []):
                for name, spec in providers.items():
                    found[name] = spec["version"]
    return found


def satisfies(version: str, constraints: str) -> bool:
    """Terraform's version constraint syntax: comma-separated `~>`, `>=`, `>`, `<=`, `<`,
    `=`, `!=`."""
    have = parse_version(version)
    for constraint in constraints.split(","):
        match = re.fullmatch(r"\s*(~>|>=|<=|!=|>|<|=)?\s*([\d.]+)\s*", constraint)
        assert match, f"unsupported constraint {constraint!r}"
        op, want = match.group(1) or "=", parse_version(match.group(2))
        if not compare(have, op, want, len(match.group(2).split("."))):
            return False
    return True


def compare(have: tuple[int, ...], op: str, want: tuple[int, ...], parts: int) -> bool:
    if op == "~>":  # ~> 6.0 means >= 6.0, < 7; ~> 6.1.2 means >= 6.1.2, < 6.2
        upper = (*want[: parts - 2], want[parts - 2] + 1) if parts > 1 else (want[0] + 1,)
        return want <= have < upper + (0,) * (3 - len(upper))
    return {
        ">=": have >= want,
        "<=": have <= want,
        ">": have > want,
        "<": have < want,
        "=": have == want,
        "!=": have != want,
    }[op]


def parse_version(text: str) -> tuple[int, ...]:
    numbers = tuple(int(part) for part in text.split("."))
    return numbers + (0,) * (3 - len(numbers))


@pytest.mark.parametrize(
    ("version", "constraint", "ok"),
    [
        ("6.50.0", "~> 6.0", True),
        ("7.0.0", "~> 6.0", False),
        ("6.50.0", "~> 6.50.1", False),
        ("6.50.3", "~> 6.50.1", True),
        ("6.51.0", "~> 6.50.1", False),
        ("6.50.0", ">= 6.0, < 6.40", False),
        ("6.50.0", ">= 6.0, < 7.0", True),
    ],
)
def test_version_constraints(version: str, constraint: str, ok: bool) -> None:
    assert satisfies(version, constraint) is ok
