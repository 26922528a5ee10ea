"""The compose stack's Cloud Run front doors (emulators/cloud-run/compose/*.toml) read with the
emulator's own config loader against this checkout's Terraform: every invoker expression is
mapped, the invokers are the ones `make up` grants, and compose and the images name configs
that exist. The e2e test (tests/e2e/test_compose_stack.py) runs them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from cloud_run_emulator.config import ServiceConfig, service_from_table
from cloud_run_emulator.environment import DEFAULT_INHERIT
from cloud_run_emulator.terraform import EnvKind, read_service
from thoth_devstack import front_door

from thoth.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOORS = ROOT / "emulators" / "cloud-run" / "compose"
IMAGE_DOORS = "/etc/thoth/doors/"
IMAGE_TERRAFORM = "/etc/thoth/terraform/modules/"  # where the door stage copies terraform/modules
ISSUER = "http://cloud-tasks:8124"
DEV = f"user:{front_door.DEV_USER}"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the door must be reachable from other containers
DEFAULT_DOORS = {"Dockerfile.ingestion": "worker.toml", "Dockerfile.mcp": "mcp-open.toml"}


def door(name: str) -> ServiceConfig:
    """The config as the emulator loads it in the image, with the Terraform of this checkout."""
    with (DOORS / name).open("rb") as handle:
        (table,) = tomllib.load(handle)["service"]
    assert str(table["terraform"]).startswith(IMAGE_TERRAFORM), table["terraform"]
    module = str(table["terraform"]).removeprefix(IMAGE_TERRAFORM)
    table["terraform"] = str(ROOT / "terraform" / "modules" / module)
    return service_from_table(table, DOORS)


def members(*groups: list[str]) -> frozenset[str]:
    return frozenset(member for group in groups for member in group)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


@pytest.mark.parametrize("name", ["worker.toml", "webhook.toml", "mcp-open.toml", "mcp-iam.toml"])
def test_door_listens_for_the_network_and_trusts_the_one_issuer(name: str) -> None:
    config = door(name)
    assert (config.host, config.port) == (ALL_INTERFACES, 8080)
    assert [issuer.jwks_uri for issuer in config.issuers] == [f"{ISSUER}/oauth2/v3/certs"]
    assert config.env.get("THOTH_HOST") == "127.0.0.1", "the service's own port stays private"
    assert config.command[0].startswith("/opt/venv/bin/")


@pytest.mark.parametrize("name", ["worker.toml", "webhook.toml", "mcp-open.toml", "mcp-iam.toml"])
def test_doors_run_instances_as_make_up_does(name: str) -> None:
    """Every instance with its own cache (at Terraform's path), and the worker capped as
    `make up` caps it, never above what Terraform allows."""
    config = door(name)
    assert config.private_dirs == tuple(front_door.PRIVATE_DIRS)
    terraform = read_service(ROOT / "terraform" / "modules" / _module(name) / "main.tf")
    cap = front_door.LOCAL_MAX_INSTANCES.get(config.name)
    assert config.terraform.max_instances == (cap or terraform.max_instances)
    assert config.terraform.max_instances <= terraform.max_instances
    if name != "webhook.toml":
        assert config.env["THOTH_CACHE_DIR"] == _terraform_env(_module(name))["THOTH_CACHE_DIR"]


@pytest.mark.parametrize("name", ["worker.toml", "webhook.toml", "mcp-open.toml", "mcp-iam.toml"])
def test_doors_pass_on_what_make_up_passes_on(name: str) -> None:
    """Only Terraform's variables and the same local names as `make up` reach a container."""
    config = door(name)
    assert config.environment == "declared"
    assert config.inherit == (*DEFAULT_INHERIT, *front_door.LOCAL_ENV)
    assert config.env_overrides == tuple(front_door.LOCAL_OVERRIDES)
    assert set(config.env) <= set(front_door.LOCAL_VALUES), "other local values are not named"


@pytest.mark.parametrize("module", ["ingestion", "webhook", "mcp"])
def test_make_up_keeps_terraform_literals_but_the_named_local_ones(module: str) -> None:
    """What `make up` writes for a service: a deployed literal (THOTH_AUTH=iam) stays as
    deployed even where the stack's settings say otherwise; undeclared settings stay out."""
    settings = Settings(auth="jwks", chunk_max_chars=1234, host="127.0.0.1")
    service = front_door.DoorService(
        name="svc",
        terraform=ROOT / "terraform" / "modules" / module / "main.tf",
        port=8080,
        command=["true"],
        env=front_door.container_env(settings),
        issuers=[],
        members={},
    )
    env = front_door.declared_env(service)
    literals = {v.name for v in read_service(service.terraform).env if v.kind is EnvKind.LITERAL}
    assert not (literals & set(env)) - {*front_door.LOCAL_VALUES, *front_door.LOCAL_OVERRIDES}
    assert "THOTH_AUTH" not in env and "THOTH_CHUNK_MAX_CHARS" not in env
    assert env["THOTH_HOST"] == "127.0.0.1" and env["THOTH_PROJECT"] == settings.project


def _module(door_name: str) -> str:
    return {"worker.toml": "ingestion", "webhook.toml": "webhook"}.get(door_name, "mcp")


def _terraform_env(module: str) -> dict[str, str]:
    text = (ROOT / "terraform" / "modules" / module / "main.tf").read_text()
    pairs = re.findall(r'name\s*=\s*"(THOTH_[A-Z_]+)"\s*\n\s*value\s*=\s*"([^"]*)"', text)
    return dict(pairs)


def test_worker_door_is_private_with_the_invokers_make_up_grants() -> None:
    config = door("worker.toml")
    env = compose()["x-thoth-env"]
    assert config.url == env["THOTH_WORKER_URL"], "Cloud Tasks' audience is the worker URL"
    assert not config.public
    settings = Settings(worker_callers=[front_door.DEV_USER])
    assert config.members == members(*front_door.worker_members(settings).values())
    assert env["THOTH_WORKER_CALLERS"] == front_door.DEV_USER
    assert "THOTH_AUTH" not in env, "behind the door the worker reads IAM's claims (iam)"


def test_mcp_doors_open_by_default_and_enforce_iam_on_request() -> None:
    opened, enforced = door("mcp-open.toml"), door("mcp-iam.toml")
    assert opened.public and not enforced.public
    assert enforced.members == members(*front_door.mcp_members([front_door.DEV_USER]).values())
    assert DEV in enforced.members
    for config in (opened, enforced):
        assert config.accepted_audiences() >= {"http://127.0.0.1:8080", "http://mcp:8080"}


def test_compose_runs_both_services_behind_doors_that_exist() -> None:
    services = compose()["services"]
    for name in ("ingestion", "mcp"):
        assert services[name]["build"]["target"] == "door", name
    config = services["mcp"]["environment"]["CLOUD_RUN_EMULATOR_CONFIG"]
    for choice in ("open", "iam"):
        chosen = config.replace("${THOTH_MCP_DOOR:-open}", choice)
        assert (DOORS / chosen.removeprefix(IMAGE_DOORS)).is_file(), chosen
    assert "${THOTH_MCP_DOOR:-open}" in config
    for dockerfile, default in DEFAULT_DOORS.items():
        text = (ROOT / dockerfile).read_text()
        assert f"CLOUD_RUN_EMULATOR_CONFIG={IMAGE_DOORS}{default}" in text, dockerfile


def test_webhook_door_is_public_as_terraform_declares_and_gitlab_calls_it() -> None:
    config = door("webhook.toml")
    assert config.public, "terraform/modules/webhook disables the invoker check"
    assert list(config.command[1:]) == ["-m", "thoth.ingest.webhook"]
    services = compose()["services"]
    webhook = services["webhook"]
    assert webhook["image"] == services["ingestion"]["image"]
    assert webhook["environment"]["CLOUD_RUN_EMULATOR_CONFIG"] == f"{IMAGE_DOORS}webhook.toml"
    hooks = services["gitlab"]["environment"]["GITLAB_EMULATOR_HOOKS"]
    assert hooks == f"{config.url}/webhooks/gitlab"
    env = compose()["x-thoth-env"]
    assert (
        env["THOTH_WEBHOOK_TOKEN"]
        == services["gitlab"]["environment"]["GITLAB_EMULATOR_HOOK_TOKEN"]
    )
    assert env["THOTH_GITLAB_TOKEN"] == services["gitlab"]["environment"]["GITLAB_EMULATOR_TOKENS"]


@pytest.mark.parametrize("dockerfile", ["Dockerfile.ingestion", "Dockerfile.mcp"])
def test_plain_build_is_the_runtime_cloud_run_deploys(dockerfile: str) -> None:
    stages = re.findall(r"^FROM (\S+) AS (\S+)$", (ROOT / dockerfile).read_text(), re.MULTILINE)
    assert stages[-1] == ("runtime", "release"), stages
    assert ("runtime", "door") in stages
