"""The GitHub workflows deploy only what this repository pushed to main, canary first.

Read as YAML (the semantics are GitHub's: a `workflow_run` job runs on the default branch
with the deployer's identity whatever triggered it, so the gate must check who did)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
MCP_MODULE = ROOT / "terraform" / "modules" / "mcp" / "main.tf"


@cache
def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def triggers(name: str) -> dict[str, Any]:
    on: dict[str, Any] = workflow(name)[True]  # YAML 1.1 reads the key `on` as True
    return on


def steps(name: str, job: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workflow(name)["jobs"][job]["steps"]
    return found


def step_index(name: str, job: str, needle: str) -> int:
    for index, step in enumerate(steps(name, job)):
        if needle in step.get("run", "") or needle in step.get("name", ""):
            return index
    raise AssertionError(f"no step of {job} mentions {needle!r}")


def condition(text: str) -> str:
    return " ".join(text.split())


def test_deploy_gate_admits_only_pushes_to_this_repositorys_main() -> None:
    on = triggers("infra-deploy.yml")
    assert on["workflow_run"] == {"workflows": ["ci"], "types": ["completed"], "branches": ["main"]}
    gate = condition(workflow("infra-deploy.yml")["jobs"]["gate"]["if"])
    for clause in (
        "github.event.workflow_run.conclusion == 'success'",
        "github.event.workflow_run.event == 'push'",
        "github.event.workflow_run.head_branch == 'main'",
        "github.event.workflow_run.head_repository.full_name == github.repository",
        "github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/main'",
    ):
        assert clause in gate, clause
    # A tag's CI run reports the tag's name as head_branch (a tag named main passes the
    # condition), so the gate also checks that the commit is on main.
    assert triggers("ci.yml")["push"] == {"branches": ["**"]}
    gate_steps = steps("infra-deploy.yml", "gate")
    assert gate_steps[0]["with"]["ref"] == "refs/heads/main"
    assert gate_steps[0]["with"]["fetch-depth"] == 0
    newest = gate_steps[step_index("infra-deploy.yml", "gate", "The commit is main's newest")]
    assert "tip=$(git rev-parse HEAD)" in newest["run"]
    assert '[ "$DEPLOY_SHA" != "$tip" ]' in newest["run"] and "exit 1" in newest["run"]
    # Every other job runs after the gate, directly or through the builds.
    jobs = workflow("infra-deploy.yml")["jobs"]
    assert jobs["build-mcp"]["needs"] == jobs["build-ingestion"]["needs"] == "gate"
    assert set(jobs["canary"]["needs"]) == {"build-mcp", "build-ingestion", "terraform"}


@pytest.mark.parametrize("name", ["ci.yml", "infra-deploy.yml", "rollback.yml"])
def test_steps_run_in_bash_with_pipefail(name: str) -> None:
    assert workflow(name)["defaults"]["run"]["shell"] == "bash"
    for job_name, job in workflow(name)["jobs"].items():
        shell = job.get("defaults", {}).get("run", {}).get("shell", "bash")
        assert shell == "bash", job_name
        for step in job.get("steps", []):
            assert step.get("shell", "bash") == "bash", (job_name, step.get("name"))


@pytest.mark.parametrize("name", ["infra-deploy.yml", "rollback.yml"])
def test_permissions_are_least_privilege(name: str) -> None:
    flow = workflow(name)
    assert flow["permissions"] == {}
    for job_name, job in flow["jobs"].items():
        granted = job.get("permissions", {})
        assert set(granted.items()) <= {("contents", "read"), ("id-token", "write")}, job_name
        uses_google = any("google-github-actions/auth" in s.get("uses", "") for s in job["steps"])
        assert (granted.get("id-token") == "write") == uses_google, job_name


def test_terraform_plan_failure_stops_the_job() -> None:
    terraform = workflow("infra-deploy.yml")["jobs"]["terraform"]
    assert terraform["defaults"]["run"]["shell"] == "bash"  # -eo pipefail: `| tee` keeps rc
    plan = steps("infra-deploy.yml", "terraform")[
        step_index("infra-deploy.yml", "terraform", "plan")
    ]
    assert "| tee plan.txt" in plan["run"]


def test_new_revisions_start_as_tagged_canaries_without_traffic() -> None:
    flow = workflow("infra-deploy.yml")
    tag = flow["env"]["CANARY_TAG"]
    deploy = steps("infra-deploy.yml", "canary")[
        step_index("infra-deploy.yml", "canary", "gcloud run deploy")
    ]["run"]
    assert "--no-traffic" in deploy
    assert '--tag="$CANARY_TAG"' in deploy
    runs = "\n".join(step.get("run", "") for step in steps("infra-deploy.yml", "canary"))
    assert "update-traffic" in runs and "--to-latest" not in runs
    # The MCP server answers 421 to a Host it does not know: Terraform allows the tag's host.
    assert f'"{tag}---${{var.host}}"' in MCP_MODULE.read_text()


def test_traffic_moves_only_after_the_smoke_check() -> None:
    smoke_at = step_index("infra-deploy.yml", "canary", "scripts/smoke.py")
    promote_at = step_index("infra-deploy.yml", "canary", "Move all traffic")
    deploy_at = step_index("infra-deploy.yml", "canary", "gcloud run deploy")
    assert deploy_at < smoke_at < promote_at
    canary = steps("infra-deploy.yml", "canary")
    smoke = canary[smoke_at]
    assert "${{ steps.urls.outputs.mcp_canary }}" in smoke["env"].values()
    assert "--id-token" in smoke["run"] and "--worker" in smoke["run"]
    promote = canary[promote_at]
    assert "if" not in promote  # a failed smoke check skips it
    assert re.search(r"--to-revisions=\"\$\{MCP_REVISION\}=100\"", promote["run"])
    summary = canary[-1]
    assert summary["if"] == "always()"
    assert "GITHUB_STEP_SUMMARY" in summary["run"] and "serving now" in summary["run"]


def test_rollback_workflow_inputs_and_summary() -> None:
    inputs = triggers("rollback.yml")["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"service", "revision", "source", "index_version"}
    assert inputs["service"]["options"] == ["thoth-mcp", "thoth-ingestion", "thoth-webhook"]
    assert inputs["revision"]["required"] is True
    assert inputs["source"]["required"] is False and inputs["index_version"]["required"] is False
    job = workflow("rollback.yml")["jobs"]["rollback"]
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert '--to-revisions="${REVISION}=100"' in runs
    assert 'thoth index rollback "$SOURCE" "$INDEX_VERSION"' in runs
    assert "before" in runs and "after" in runs and "GITHUB_STEP_SUMMARY" in runs
    # The group the deploy's gate admits runs into, written as the rollback spells it.
    admitted = re.search(r"format\('([^']*)', vars\.GCP_PROJECT_ID\)", deploy_group_text())
    assert admitted, deploy_group_text()
    rollback = workflow("rollback.yml")
    job_if = rollback["jobs"]["rollback"]["if"]
    assert job_if == "github.ref == 'refs/heads/main'"
    # Only a dispatch the job admits waits in the deploy's group (see the test below).
    assert condition(rollback["concurrency"]["group"]) == (
        f"${{{{ {job_if} && format('{admitted.group(1)}', vars.GCP_PROJECT_ID)"
        " || format('rollback-refused-{0}', github.run_id) }}"
    )


def deploy_group_text() -> str:
    return condition(workflow("infra-deploy.yml")["concurrency"]["group"])


def test_only_runs_the_gate_admits_wait_in_the_deploy_group() -> None:
    """GitHub keeps one waiting run per concurrency group and cancels the older: a run the
    gate refuses must not wait in the deploy's group, or it could cancel a waiting deploy or
    rollback (the rollback's group is the deploy's)."""
    deploy = workflow("infra-deploy.yml")
    group = condition(deploy["concurrency"]["group"])
    gate = condition(deploy["jobs"]["gate"]["if"])
    admitted = "format('infra-deploy-{0}', vars.GCP_PROJECT_ID)"
    refused = "format('infra-deploy-refused-{0}', github.run_id)"
    assert group == f"${{{{ ({gate}) && {admitted} || {refused} }}}}"
    assert deploy["concurrency"]["cancel-in-progress"] is False


def test_ci_requires_docker_for_the_e2e_tests() -> None:
    test_steps = workflow("ci.yml")["jobs"]["test"]["steps"]
    e2e = next(step for step in test_steps if "-m e2e" in step.get("run", ""))
    assert e2e["env"]["THOTH_REQUIRE_DOCKER"] == "1"


def test_traffic_is_pinned_before_terraform_can_add_a_revision() -> None:
    pin = step_index("infra-deploy.yml", "terraform", "Pin traffic")
    apply = step_index("infra-deploy.yml", "terraform", "terraform apply")
    assert pin < apply
    pin_step = steps("infra-deploy.yml", "terraform")[pin]
    assert "select(.latestRevision == true" in pin_step["run"]
    assert '--to-revisions="${revision}=100"' in pin_step["run"]


def test_a_refused_canary_of_the_public_webhook_leaves_its_url() -> None:
    """The webhook receiver has no invoker check: its canary's tagged URL is public."""
    canary = steps("infra-deploy.yml", "canary")
    cleanup_at = step_index("infra-deploy.yml", "canary", "refused canary of the public webhook")
    cleanup = canary[cleanup_at]
    assert cleanup["if"] == "${{ failure() || cancelled() }}"  # a timeout cancels the job
    assert '"$WEBHOOK_SERVICE"' in cleanup["run"]
    assert '--remove-tags="$CANARY_TAG"' in cleanup["run"]
    assert cleanup_at > step_index("infra-deploy.yml", "canary", "Move all traffic")
    rollback = "\n".join(
        step.get("run", "") for step in workflow("rollback.yml")["jobs"]["rollback"]["steps"]
    )
    assert "--remove-tags=canary" in rollback
