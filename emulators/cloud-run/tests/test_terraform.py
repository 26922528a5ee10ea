"""Settings come from the Terraform that deploys the services: drift there fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud_run_emulator.config import ConfigError, load
from cloud_run_emulator.cpus import Ledger, boosted
from cloud_run_emulator.terraform import EnvKind, EnvVar, Probe, TerraformError, read_service

MODULES = Path(__file__).resolve().parents[3] / "terraform" / "modules"


def test_mcp_settings_from_terraform():
    mcp = read_service(MODULES / "mcp" / "main.tf")
    assert (mcp.timeout_seconds, mcp.concurrency, mcp.cpu_idle) == (300.0, 80, False)
    assert (mcp.min_instances, mcp.max_instances) == (0, 3)
    assert mcp.startup_probe == Probe("http", "/startup", 0, 5, 3, 24)
    assert mcp.liveness_probe == Probe("http", "/health", 0, 30, 5, 3)
    assert set(mcp.invoker_members) == {"var.invoker_members", "var.deployer_member"}


def test_declared_env_from_terraform():
    """Literals keep their value; expressions, secrets and `dynamic "env"` blocks are declared
    names whose values the local side supplies."""
    mcp = {var.name: var.value for var in read_service(MODULES / "mcp" / "main.tf").env}
    assert mcp["THOTH_HOST"] == "0.0.0.0"  # noqa: S104 (a literal, as deployed)
    assert mcp["THOTH_CACHE_DIR"] == "/tmp/thoth"
    assert mcp["THOTH_BUCKET"] is None  # var.bucket_name
    assert "THOTH_MCP_TOKENS" in mcp and mcp["THOTH_MCP_TOKENS"] is None  # dynamic, a secret
    worker = {var.name: var for var in read_service(MODULES / "ingestion" / "main.tf").env}
    assert worker["THOTH_AUTH"].value == "iam"
    assert worker["THOTH_GITLAB_TOKEN"].kind is EnvKind.SECRET
    assert "THOTH_SOURCE_ROOTS" not in worker  # a local-only setting


def _container_env(tmp_path, blocks: str) -> dict[str, EnvVar]:
    tf = tmp_path / "svc.tf"
    tf.write_text(
        'resource "google_cloud_run_v2_service" "svc" {\n template {\n containers {\n'
        f'  image = "x"\n{blocks}\n }}\n }}\n}}\n'
    )
    return {var.name: var for var in read_service(tf).env}


def test_memory_limits_from_terraform(tmp_path):
    worker = read_service(MODULES / "ingestion" / "main.tf")
    webhook = read_service(MODULES / "webhook" / "main.tf")
    assert (worker.memory_bytes, webhook.memory_bytes) == (2 * 1024**3, 512 * 1024**2)
    tf = tmp_path / "svc.tf"
    tf.write_text('resource "google_cloud_run_v2_service" "svc" {\n template {\n containers {\n'
                  '  image = "x"\n }\n }\n}\n')  # fmt: skip
    assert read_service(tf).memory_bytes == 512 * 1024**2  # Cloud Run's default
    tf.write_text(tf.read_text().replace('image = "x"', 'image = "x"\n resources {\n'
                                         ' limits = { memory = "lots" }\n }'))  # fmt: skip
    with pytest.raises(TerraformError, match="lots"):
        read_service(tf)


def test_env_values_as_cloud_run_passes_them(tmp_path):
    """No value is the empty string; true is "true"; any interpolation is left to the local
    side, not passed word for word."""
    env = _container_env(
        tmp_path,
        'env {\n name = "EMPTY"\n }\n'
        'env {\n name = "FLAG"\n value = true\n }\n'
        'env {\n name = "URL"\n value = "https://${var.host}/x"\n }\n',
    )
    assert env["EMPTY"] == EnvVar("EMPTY", EnvKind.LITERAL, "")
    assert env["FLAG"] == EnvVar("FLAG", EnvKind.LITERAL, "true")
    assert env["URL"] == EnvVar("URL", EnvKind.EXPRESSION)


@pytest.mark.parametrize("name", ["PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"])
def test_a_reserved_env_name_is_refused_as_the_deploy_would_be(tmp_path, name):
    with pytest.raises(TerraformError, match=name):
        _container_env(tmp_path, f'env {{\n name = "{name}"\n value = "1"\n }}\n')


def test_worker_settings_from_terraform():
    worker = read_service(MODULES / "ingestion" / "main.tf")
    assert (worker.timeout_seconds, worker.concurrency, worker.cpu_idle) == (900.0, 1, True)
    assert (worker.min_instances, worker.max_instances) == (0, 10)
    assert worker.startup_probe == Probe("http", "/health", 0, 5, 3, 24)
    assert worker.liveness_probe == Probe("http", "/health", 0, 30, 10, 5)
    assert set(worker.invoker_members) == {
        "google_service_account.tasks.member",
        "google_service_account.scheduler.member",
        "var.deployer_member",
        "var.invoker_members",
    }


@pytest.mark.parametrize(
    ("resources", "cpu_idle"),
    [("", True), ("resources {\n limits = { cpu = \"1\" }\n }", False),
     ("resources {\n cpu_idle = true\n }", True)],
    ids=["no-resources-block", "resources-without-cpu-idle", "cpu-idle-written-out"],
)  # fmt: skip
def test_cpu_idle_defaults_to_true_only_without_a_resources_block(tmp_path, resources, cpu_idle):
    """The provider's doc: true by default if `resources` is not set; with it, cpu_idle must
    be set to true explicitly to keep request-based CPU."""
    tf = tmp_path / "svc.tf"
    tf.write_text(
        'resource "google_cloud_run_v2_service" "svc" {\n template {\n containers {\n'
        f'  image = "x"\n  {resources}\n }}\n }}\n}}\n'
    )
    assert read_service(tf).cpu_idle is cpu_idle


def test_every_member_expression_needs_a_local_mapping(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[[service]]\nname = "worker"\nport = 8081\ncommand = ["true"]\n'
        f'terraform = "{MODULES / "ingestion" / "main.tf"}"\n'
        '[service.members]\n"var.invoker_members" = []\n'
    )
    with pytest.raises(ConfigError, match=r"google_service_account\.tasks\.member"):
        load(config)


def test_a_service_with_the_invoker_check_disabled_is_public(tmp_path):
    webhook = read_service(MODULES / "webhook" / "main.tf")
    assert webhook.invoker_iam_disabled and webhook.invoker_members == ()
    config = tmp_path / "c.toml"
    config.write_text(
        f'[[service]]\nname = "hook"\nport = 8082\ncommand = ["true"]\n'
        f'terraform = "{MODULES / "webhook" / "main.tf"}"\n'
    )
    (hook,) = load(config)
    assert hook.public
    assert not read_service(MODULES / "mcp" / "main.tf").invoker_iam_disabled


def test_example_config_maps_both_services():
    example = Path(__file__).resolve().parents[1] / "cloud-run-emulator.example.toml"
    services = {s.name: s for s in load(example)}
    assert services["thoth-mcp"].terraform.concurrency == 80
    assert services["thoth-worker"].terraform.concurrency == 1
    assert "serviceAccount:thoth-tasks@local-project.iam.gserviceaccount.com" in (
        services["thoth-worker"].members
    )
    assert not services["thoth-mcp"].public


def _with_resources(tmp_path, resources: str) -> Path:
    tf = tmp_path / "svc.tf"
    tf.write_text('resource "google_cloud_run_v2_service" "svc" {\n template {\n containers {\n'
                  f'  image = "x"\n{resources}\n }}\n }}\n}}\n')  # fmt: skip
    return tf


def test_cpu_limits_from_terraform(tmp_path):
    """`limits.cpu` in the forms the API takes; 1 vCPU when unset; the API's range and its
    rule of whole vCPUs above 1; startup CPU boost read as written (off when left out)."""
    worker = read_service(MODULES / "ingestion" / "main.tf")
    mcp = read_service(MODULES / "mcp" / "main.tf")
    assert (worker.cpu, worker.startup_cpu_boost) == (1.0, True)
    assert (mcp.cpu, mcp.startup_cpu_boost) == (2.0, True)
    unset = read_service(_with_resources(tmp_path, ""))
    assert (unset.cpu, unset.startup_cpu_boost) == (1.0, False)
    for text, vcpus in (("2", 2.0), ("1000m", 1.0), ("0.5", 0.5), ("80m", 0.08), ("8", 8.0)):
        tf = _with_resources(tmp_path, f' resources {{\n limits = {{ cpu = "{text}" }}\n }}')
        assert read_service(tf).cpu == vcpus, text
    for text in ("1.5", "9", "0.05", "lots", "1500m"):
        tf = _with_resources(tmp_path, f' resources {{\n limits = {{ cpu = "{text}" }}\n }}')
        with pytest.raises(TerraformError, match="cpu"):
            read_service(tf)


def test_startup_cpu_boost_by_limit_and_the_ledger_of_cpus():
    """The boost table of Cloud Run's CPU page. A door's containers take its least used CPUs,
    so one-vCPU instances of its services get a CPU each while there are enough; a boosted
    one narrows to CPUs it already has; a fraction takes a whole CPU; a limit past the
    machine gets the machine."""
    assert [boosted(v) for v in (0.08, 0.5, 1, 2, 4, 6, 8)] == [2, 2, 2, 4, 8, 8, 8]
    ledger = Ledger((0, 1, 2, 3))
    worker, webhook = ledger.take(1.0), ledger.take(0.5)
    assert len(worker) == len(webhook) == 1 and worker != webhook
    mcp = ledger.take(2.0)
    assert len(mcp) == 2 and not mcp & (worker | webhook)
    starting = ledger.take(boosted(1.0))
    narrowed = ledger.take(1.0, among=starting)
    ledger.give_back(starting)
    assert len(narrowed) == 1 and narrowed <= starting
    assert ledger.take(8.0) == frozenset({0, 1, 2, 3})
    for held in (worker, webhook, mcp, narrowed):
        ledger.give_back(held)
    assert ledger.take(1.0) == frozenset({0})  # all given back but the 8-vCPU one
    # Door processes keep separate ledgers: on ties they start where their ports point.
    first, second = Ledger((0, 1), start=8081), Ledger((0, 1), start=8082)
    assert first.take(1.0) != second.take(1.0)
