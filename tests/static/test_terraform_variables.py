"""The root module's variable validations, run by the real `terraform` (offline: a variable
block alone needs no provider): what an operator's tfvars may say is refused at plan time
when the deployed services could not honour it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VARIABLES = ROOT / "terraform" / "variables.tf"
TERRAFORM = shutil.which("terraform")

pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")


def variable_block(name: str) -> str:
    text = VARIABLES.read_text()
    start = text.index(f'variable "{name}"')
    depth = 0
    for end, char in enumerate(text[start:], start):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "}" and depth == 0:
            return text[start : end + 1] + "\n"
    raise AssertionError(f"variable {name} has no closing brace")


@pytest.fixture(scope="module")
def worker_members_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tf-variables")
    (folder / "variables.tf").write_text(variable_block("worker_invoker_members"))
    run(folder, "init", "-backend=false")
    return folder


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1"}
    return subprocess.run(
        [str(TERRAFORM), f"-chdir={folder}", *args, "-input=false", "-no-color"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def plan(folder: Path, members: str) -> subprocess.CompletedProcess[str]:
    return run(folder, "plan", f"-var=worker_invoker_members={members}")


def test_people_and_service_accounts_may_call_the_worker(worker_members_module: Path) -> None:
    members = '["user:admin@example.com", "serviceAccount:ops@p.iam.gserviceaccount.com"]'
    answer = plan(worker_members_module, members)
    assert answer.returncode == 0, answer.stderr


@pytest.mark.parametrize(
    "member",
    ["group:admins@example.com", "domain:example.com", "allUsers", "admin@example.com"],
)
def test_members_the_worker_cannot_match_by_email_are_refused(
    worker_members_module: Path, member: str
) -> None:
    """Cloud Run IAM would admit a group's members, but the worker compares the caller's
    email with THOTH_WORKER_CALLERS, and an ID token names a person, not their groups."""
    answer = plan(worker_members_module, f'["{member}"]')
    assert answer.returncode != 0
    refusal = " ".join(answer.stderr.split())
    assert "worker_invoker_members takes user:EMAIL and serviceAccount:EMAIL" in refusal or (
        member == "allUsers" and "never public" in refusal
    ), answer.stderr
