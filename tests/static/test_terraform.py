"""The Terraform and the deploy workflow match DESIGN, docs/deployment.md and the settings table.

Parses terraform/**/*.tf with python-hcl2 (no Terraform binary needed) so drift between the
documented deployment and the infrastructure code fails the build.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from pydantic import AliasChoices

from thoth.config import Settings
from thoth.ingest.tasks import DISPATCH_DEADLINE

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "terraform"
MODULES = TF / "modules"
WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"

# DESIGN, "Cloud Run settings (from the deployment document)".
DESIGN_CLOUD_RUN = {
    "mcp": {"cpu": "2", "memory": "2Gi", "min": 0, "max": 3, "concurrency": 80, "timeout": 300},
    "ingestion": {
        "cpu": "1",
        "memory": "2Gi",
        "min": 0,
        "max": 10,
        "concurrency": 1,
        "timeout": 900,
    },
    # Not in DESIGN's table (issue 14): the public receiver only checks a token and enqueues.
    "webhook": {
        "cpu": "1",
        "memory": "512Mi",
        "min": 0,
        "max": 2,
        "concurrency": 80,
        "timeout": 30,
    },
}
SERVICE_RESOURCE = {"mcp": "mcp", "ingestion": "worker", "webhook": "receiver"}
SERVICES = list(SERVICE_RESOURCE)
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}
OPTIONS = hcl2.SerializationOptions(
    explicit_blocks=False, strip_string_quotes=True, with_comments=False
)


# --- parsing helpers ----------------------------------------------------------------------
@cache
def parse(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=OPTIONS)


def tf_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.tf"))


def blocks(directory: Path, kind: str) -> dict[str, Any]:
    """Top-level blocks of one kind (variable, output, module, locals) merged over a dir."""
    found: dict[str, Any] = {}
    for path in tf_files(directory):
        for block in parse(path).get(kind, []):
            found.update(block)
    return found


def resources(directory: Path, rtype: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in tf_files(directory):
        for block in parse(path).get("resource", []):
            found.update(block.get(rtype, {}))
    return found


def text(directory: Path) -> str:
    return "\n".join(path.read_text() for path in tf_files(directory))


def one(value: Any) -> Any:
    """A nested block parses as a list of one dict."""
    assert isinstance(value, list) and len(value) == 1, value
    return value[0]


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return int(match.group(1))


def service(name: str) -> dict[str, Any]:
    return resources(MODULES / name, "google_cloud_run_v2_service")[SERVICE_RESOURCE[name]]


def container(name: str) -> dict[str, Any]:
    return one(one(service(name)["template"])["containers"])


def env_entries(name: str) -> list[dict[str, Any]]:
    box = container(name)
    entries = list(box.get("env", []))
    for dynamic in box.get("dynamic", []):
        if "env" in dynamic:
            entries.append(one(dynamic["env"]["content"]))
    return entries


def env_names(name: str) -> set[str]:
    return {entry["name"] for entry in env_entries(name)}


# Variables a service's Terraform sets for the runtime rather than for thoth.config.Settings.
RUNTIME_ENV = {"MALLOC_ARENA_MAX": "glibc's malloc: heap arenas (modules/ingestion)"}


def settings_env_names() -> set[str]:
    names: set[str] = set()
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        else:
            names.add(f"THOTH_{field.upper()}")
    return names


def doc_cloud_run_table() -> dict[str, dict[str, str]]:
    """docs/deployment.md's Cloud Run settings table, keyed by `mcp` / `ingestion`."""
    rows: dict[str, dict[str, str]] = {}
    header: list[str] = []
    for line in DEPLOYMENT_DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| service | CPU"):
            header = [cell.lower() for cell in cells]
        elif header and line.startswith("|") and not line.startswith("|---"):
            key = next(
                (name for name in ("mcp", "webhook") if f"thoth-{name}" in cells[0]), "ingestion"
            )
            rows[key] = dict(zip(header, cells, strict=True))
        elif header and not line.startswith("|"):
            break
    return rows


# --- Cloud Run ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", SERVICES)
def test_cloud_run_settings_match_design(name: str) -> None:
    expected = DESIGN_CLOUD_RUN[name]
    template = one(service(name)["template"])
    scaling = one(template["scaling"])
    limits = one(container(name)["resources"])["limits"]
    assert limits["cpu"] == expected["cpu"]
    assert limits["memory"] == expected["memory"]
    assert scaling["min_instance_count"] == expected["min"]
    assert scaling["max_instance_count"] == expected["max"]
    assert template["max_instance_request_concurrency"] == expected["concurrency"]
    assert seconds(template["timeout"]) == expected["timeout"]


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_doc_table_matches_terraform(name: str) -> None:
    row = doc_cloud_run_table()[name]
    expected = DESIGN_CLOUD_RUN[name]
    assert row["cpu"] == expected["cpu"]
    assert row["memory"] == expected["memory"]
    assert row["min"] == str(expected["min"])
    assert row["max"] == str(expected["max"])
    assert row["concurrency"] == str(expected["concurrency"])
    assert row["timeout"] == f"{expected['timeout']} s"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_told_its_cpu_limit(name: str) -> None:
    """A container may see more CPUs than its limit (thoth.cpus): THOTH_CPUS says it."""
    values = {entry["name"]: entry.get("value") for entry in env_entries(name)}
    limits = one(container(name)["resources"])["limits"]
    assert values["THOTH_CPUS"] == limits["cpu"]
    assert Settings(cpus=values["THOTH_CPUS"]).cpus == float(limits["cpu"])


STARTUP_PATHS = {"mcp": "/startup", "ingestion": "/health", "webhook": "/health"}  # MCP loads first


@pytest.mark.parametrize("name", SERVICES)
def test_startup_and_liveness_probes(name: str) -> None:
    box = container(name)
    assert one(one(box["startup_probe"])["http_get"])["path"] == STARTUP_PATHS[name]
    assert one(one(box["liveness_probe"])["http_get"])["path"] == "/health"
    startup = one(box["startup_probe"])
    # Startup must allow the image's imports (torch takes seconds) on a cold instance.
    assert startup["period_seconds"] * startup["failure_threshold"] >= 60


@pytest.mark.parametrize("name", SERVICES)
def test_port_is_left_to_cloud_run(name: str) -> None:
    assert one(container(name)["ports"])["container_port"] == 8080
    assert "PORT" not in env_names(name)  # reserved: Cloud Run sets it


@pytest.mark.parametrize("name", SERVICES)
def test_every_injected_env_var_is_a_setting(name: str) -> None:
    unknown = env_names(name) - settings_env_names() - set(RUNTIME_ENV)
    assert not unknown, f"{name} injects variables thoth.config.Settings never reads: {unknown}"


def test_services_get_the_settings_they_need() -> None:
    common = {
        "THOTH_PROJECT",
        "THOTH_LOCATION",
        "THOTH_BUCKET",
        "THOTH_HOST",
        "THOTH_LOG_FORMAT",
        "THOTH_CACHE_DIR",
        "THOTH_EMBEDDING_MODEL",
    }
    assert common | {"THOTH_ALLOWED_HOSTS", "THOTH_INDEX_POLL_SECONDS"} <= env_names("mcp")
    assert common | {
        "THOTH_QUEUE",
        "THOTH_WORKER_URL",
        "THOTH_TASKS_SERVICE_ACCOUNT",
        "THOTH_AUTH",
        "THOTH_WORKER_CALLERS",
        "THOTH_GITLAB_URL",
        "THOTH_GITLAB_TOKEN",
    } <= env_names("ingestion")
    values = {entry["name"]: entry.get("value") for entry in env_entries("ingestion")}
    assert values["THOTH_AUTH"] == "iam"  # behind Cloud Run IAM: claims, never signatures
    assert values["THOTH_HOST"] == "0.0.0.0"  # noqa: S104 (a container listens on all interfaces)
    assert values["THOTH_LOG_FORMAT"] == "json"


def test_secret_env_vars_come_from_secret_manager() -> None:
    for name in SERVICES:
        for entry in env_entries(name):
            if "TOKEN" in entry["name"]:
                assert "value" not in entry, entry["name"]
                ref = one(one(entry["value_source"])["secret_key_ref"])
                assert ref["version"] == "latest"


def test_worker_url_is_the_deterministic_run_app_url() -> None:
    root_locals = blocks(TF, "locals")
    assert root_locals["worker_service_name"] == "thoth-ingestion"
    assert re.fullmatch(
        r"https://\$\{local\.worker_service_name\}-\$\{data\.google_project\.this\.number\}"
        r"\.\$\{var\.region\}\.run\.app",
        root_locals["worker_url"],
    )
    values = {entry["name"]: entry.get("value") for entry in env_entries("ingestion")}
    assert values["THOTH_WORKER_URL"] == "${var.worker_url}"
    assert values["THOTH_OIDC_AUDIENCE"] == "${var.worker_url}"
    job = resources(MODULES / "ingestion", "google_cloud_scheduler_job")["sync"]
    target = one(job["http_target"])
    assert target["uri"] == "${var.worker_url}/v1/ingest"
    assert one(target["oidc_token"])["audience"] == "${var.worker_url}"


# --- Cloud Tasks --------------------------------------------------------------------------
def queue() -> dict[str, Any]:
    return resources(MODULES / "ingestion", "google_cloud_tasks_queue")["ingest"]


def test_queue_retry_config_as_documented() -> None:
    retry = one(queue()["retry_config"])
    assert retry["max_attempts"] == 10
    assert retry["min_backoff"] == "10s"
    assert retry["max_backoff"] == "300s"
    assert retry["max_doublings"] == 4


def test_the_worker_knows_the_queues_last_attempt() -> None:
    """A task's last attempt fails its job: the worker must count the attempts the queue
    makes (THOTH_QUEUE_MAX_ATTEMPTS, default = the queue's max_attempts)."""
    retry = one(queue()["retry_config"])
    values = {entry["name"]: entry.get("value") for entry in env_entries("ingestion")}
    configured = int(values.get("THOTH_QUEUE_MAX_ATTEMPTS") or Settings().queue_max_attempts)
    assert configured == retry["max_attempts"]
    lease = Settings().job_lease_seconds
    # A job's lease outlives the longest gap between its tasks: a backoff plus a dispatch.
    assert lease > seconds(retry["max_backoff"]) + DISPATCH_DEADLINE.total_seconds()


def test_queue_rate_limits_match_the_worker() -> None:
    limits = one(queue()["rate_limits"])
    template = one(service("ingestion")["template"])
    max_instances = one(template["scaling"])["max_instance_count"]
    worker_slots = max_instances * template["max_instance_request_concurrency"]
    assert limits["max_concurrent_dispatches"] == worker_slots == 10
    assert limits["max_dispatches_per_second"] == 5


def test_dispatch_deadline_covers_the_worker_timeout() -> None:
    timeout = seconds(one(service("ingestion")["template"])["timeout"])
    deadline = DISPATCH_DEADLINE.total_seconds()
    # Never retry a batch that is still running; Cloud Tasks allows at most 30 min.
    assert timeout <= deadline <= timedelta(minutes=30).total_seconds()
    # The comments in the module quote the app's value; keep them true.
    quoted = re.findall(r"DISPATCH_DEADLINE = (\d+) minutes", text(MODULES / "ingestion"))
    assert quoted
    assert {int(minutes) * 60 for minutes in quoted} == {int(deadline)}


# --- IAM ----------------------------------------------------------------------------------
def test_task_identity_can_be_used_by_the_enqueuer() -> None:
    grants = resources(MODULES / "ingestion", "google_service_account_iam_member")
    acts_as = grants["worker_acts_as_tasks"]
    assert acts_as["service_account_id"] == "${google_service_account.tasks.name}"
    assert acts_as["role"] == "roles/iam.serviceAccountUser"  # iam.serviceAccounts.actAs
    assert acts_as["member"] == "${local.worker_member}"
    agent = grants["cloudtasks_agent_mints_tokens"]
    assert agent["service_account_id"] == "${google_service_account.tasks.name}"
    assert agent["role"] == "roles/iam.serviceAccountTokenCreator"
    assert "google_project_service_identity.cloudtasks.email" in agent["member"]
    enqueue = resources(MODULES / "ingestion", "google_cloud_tasks_queue_iam_member")
    assert enqueue["worker_enqueues"]["role"] == "roles/cloudtasks.enqueuer"


def test_worker_invokers_are_tasks_scheduler_deployer_and_listed_members() -> None:
    invokers = resources(MODULES / "ingestion", "google_cloud_run_v2_service_iam_member")
    members = {name: grant["member"] for name, grant in invokers.items()}
    assert members == {
        "tasks_invoker": "${google_service_account.tasks.member}",
        "scheduler_invoker": "${google_service_account.scheduler.member}",
        "deployer_invoker": "${var.deployer_member}",
        "invoker": "${each.key}",
    }
    assert all(grant["role"] == "roles/run.invoker" for grant in invokers.values())


def test_invokers_are_never_public_by_default() -> None:
    private = [d for d in MODULES.iterdir() if d.name != "webhook"]
    everything = "\n".join(text(d) for d in [TF, *private])
    assert "invoker_iam_disabled" not in everything
    for member in PUBLIC_MEMBERS:
        assert f'member = "{member}"' not in everything
        assert f'"{member}"' not in (TF / "environments" / "dev.tfvars").read_text()
    root_vars = blocks(TF, "variable")
    for name in ("mcp_invoker_members", "worker_invoker_members"):
        assert root_vars[name]["default"] == []
    for module in ("mcp", "ingestion"):
        assert blocks(MODULES / module, "variable")["invoker_members"]["default"] == []


def test_bucket_roles_least_privilege() -> None:
    grants = resources(MODULES / "shared", "google_storage_bucket_iam_member")
    by_member = {grant["member"]: grant["role"] for grant in grants.values()}
    assert by_member == {
        "${google_service_account.mcp.member}": "roles/storage.objectViewer",
        "${google_service_account.worker.member}": "roles/storage.objectAdmin",
    }
    # No project-wide grants at all: every grant is on one resource.
    for directory in [TF, *MODULES.iterdir()]:
        assert "google_project_iam" not in text(directory)


def test_bucket_is_private_versioned_and_keeps_live_data() -> None:
    bucket = resources(MODULES / "shared", "google_storage_bucket")["thoth"]
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["force_destroy"] is False
    assert one(bucket["versioning"])["enabled"] is True
    for rule in bucket["lifecycle_rule"]:
        condition = one(rule["condition"])
        assert one(rule["action"])["type"] == "Delete"
        if condition["with_state"] == "LIVE":
            # Only job records and batch outputs age out; sources/ and indexes/ never do.
            assert condition["matches_prefix"] == ["jobs/"]
        else:
            assert condition["with_state"] == "ARCHIVED"


# --- Variables, wiring, secrets ---------------------------------------------------------
def test_every_root_variable_is_used() -> None:
    used = text(TF)
    unused = [name for name in blocks(TF, "variable") if f"var.{name}" not in used]
    assert not unused


@pytest.mark.parametrize("module", ["shared", "mcp", "ingestion", "webhook", "monitoring"])
def test_every_module_variable_is_used_and_passed(module: str) -> None:
    declared = blocks(MODULES / module, "variable")
    unused = [name for name in declared if f"var.{name}" not in text(MODULES / module)]
    assert not unused
    call = blocks(TF, "module")[module]
    passed = set(call) - {"source", "depends_on", "count"}
    assert passed <= set(declared), passed - set(declared)
    required = {name for name, spec in declared.items() if "default" not in spec}
    assert required <= passed, required - passed


def test_tfvars_only_set_declared_variables() -> None:
    declared = set(blocks(TF, "variable"))
    for path in (TF / "environments").glob("*.tfvars"):
        assert set(parse(path)) - {"__comments__", "__inline_comments__"} <= declared, path


def test_secrets_have_no_values_in_code() -> None:
    everything = "\n".join(text(d) for d in [TF, *MODULES.iterdir()])
    assert "google_secret_manager_secret_version" not in everything
    assert "secret_data" not in everything
    secrets = resources(MODULES / "shared", "google_secret_manager_secret")["secret"]
    assert secrets["secret_id"] == "${each.key}"
    # Their values were added by hand: no apply or destroy may delete them.
    assert secrets["deletion_protection"] is True
    root_locals = blocks(TF, "locals")
    assert root_locals["base_secret_ids"] == ["gitlab-token", "gitlab-url", "huggingface-token"]
    assert root_locals["webhook_secret_id"] == "gitlab-webhook-token"
    for path in (TF / "environments").glob("*.tfvars"):
        assert not re.search(r"(?i)(token|password|secret)\w*\s*=", path.read_text()), path


# --- Monitoring ---------------------------------------------------------------------------
def test_alert_thresholds_match_design() -> None:
    local = blocks(MODULES / "monitoring", "locals")
    assert local["latency_p95_threshold_ms"] == 2000
    assert local["error_rate_threshold"] == 0.01
    assert local["cold_starts_per_hour"] == 10
    policies = text(MODULES / "monitoring")
    assert "each.value.max_instances - 1" in policies
    for policy in ("latency_p95", "error_rate", "instances_near_max", "cold_starts"):
        assert policy in resources(MODULES / "monitoring", "google_monitoring_alert_policy")


# --- Workflows ----------------------------------------------------------------------------
def workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_deploy_workflow_uses_the_terraform_service_names() -> None:
    env = workflow("infra-deploy.yml")["env"]
    root_locals = blocks(TF, "locals")
    assert env["MCP_SERVICE"] == root_locals["mcp_service_name"]
    assert env["WORKER_SERVICE"] == root_locals["worker_service_name"]


def test_deploy_workflow_inputs_triggers_and_auth() -> None:
    flow = workflow("infra-deploy.yml")
    triggers = flow[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["workflow_run"]["workflows"] == ["ci"]
    assert triggers["workflow_run"]["branches"] == ["main"]
    assert set(triggers["workflow_dispatch"]["inputs"]) == {"skip_terraform", "skip_cloud_run"}
    assert flow["permissions"] == {}  # widened per job (tests/static/test_workflows.py)
    assert flow["concurrency"]["cancel-in-progress"] is False
    raw = (WORKFLOWS / "infra-deploy.yml").read_text()
    assert "credentials_json" not in raw  # Workload Identity Federation only


def test_ci_jobs_run_in_order_on_python_312() -> None:
    flow = workflow("ci.yml")
    jobs = flow["jobs"]
    assert list(jobs) == ["lint", "typecheck", "test", "build"]
    assert jobs["typecheck"]["needs"] == "lint"
    assert jobs["test"]["needs"] == "typecheck"
    assert jobs["build"]["needs"] == "test"
    assert flow["env"]["PYTHON_VERSION"] == "3.12"
    assert "concurrency" in flow


@pytest.mark.parametrize("name", ["ci.yml", "infra-deploy.yml", "rollback.yml"])
def test_actions_are_pinned_by_commit_sha(name: str) -> None:
    uses = re.findall(r"uses:\s*(\S+)(.*)", (WORKFLOWS / name).read_text())
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{action} needs a # vX.Y.Z comment"


# --- The webhook receiver (design.md §7: the one public service) ---------------------------
def test_only_the_webhook_receiver_is_public_and_it_only_enqueues() -> None:
    webhook = MODULES / "webhook"
    # Public the way Cloud Run recommends (no invoker check), which an organisation's
    # domain-restricted-sharing policy allows where an allUsers binding is refused.
    assert resources(webhook, "google_cloud_run_v2_service_iam_member") == {}
    assert service("webhook")["invoker_iam_disabled"] is True
    enqueue = resources(webhook, "google_cloud_tasks_queue_iam_member")["receiver_enqueues"]
    assert enqueue["role"] == "roles/cloudtasks.enqueuer"
    acts_as = resources(webhook, "google_service_account_iam_member")["receiver_acts_as_tasks"]
    assert acts_as["role"] == "roles/iam.serviceAccountUser"
    secret = resources(webhook, "google_secret_manager_secret_iam_member")["receiver_token"]
    assert secret["secret_id"] == "${var.webhook_token_secret}"
    kinds = {
        kind
        for path in tf_files(webhook)
        for block in parse(path).get("resource", [])
        for kind in block
    }
    assert not any("storage" in kind for kind in kinds)  # it never reads the bucket
    worker_secrets = resources(MODULES / "shared", "google_secret_manager_secret_iam_member")
    assert "gitlab-webhook-token" not in str(worker_secrets["worker_gitlab"]["for_each"])


def test_the_webhook_receiver_gets_its_settings() -> None:
    values = {entry["name"]: entry.get("value") for entry in env_entries("webhook")}
    assert values["THOTH_WORKER_URL"] == values["THOTH_OIDC_AUDIENCE"] == "${var.worker_url}"
    assert {"THOTH_WEBHOOK_SOURCE", "THOTH_WEBHOOK_PROJECT", "THOTH_WEBHOOK_REF"} <= set(values)
    assert {"THOTH_QUEUE", "THOTH_TASKS_SERVICE_ACCOUNT", "THOTH_WEBHOOK_TOKEN"} <= set(values)
    assert container("webhook")["command"] == ["python", "-m", "thoth.ingest.webhook"]
    call = blocks(TF, "module")["webhook"]
    assert call["count"] == "${local.webhook_enabled ? 1 : 0}"
    assert call["image"] == "${var.ingestion_image}"
