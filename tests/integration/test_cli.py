"""The `thoth` executable as users run it: a real process, real fake GCS, real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.snapshots import SAMPLE_DOCS, make_and_publish
from thoth.bucket.keys import pointer_key, source_prefix
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.jobs import Counts, FileResult, Job, JobStatus, JobStore, Plan, new_job_id
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import get_source, save_source

GOOGLE_ENV = (
    "GOOGLE_",
    "CLOUDSDK_",
    "STORAGE_EMULATOR_HOST",
    "CLOUD_TASKS_EMULATOR_HOST",
    "THOTH_",
)


def thoth(*args: str, env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(GOOGLE_ENV)}
    # No ADC file (HOME), no metadata-server probe: only what the test passes counts.
    clean |= {"HOME": str(home), "NO_GCE_CHECK": "True", "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "thoth.cli.main", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stack_env(settings: Settings) -> dict[str, str]:
    assert settings.storage_emulator_host is not None
    return {
        "THOTH_BUCKET": settings.bucket,
        "STORAGE_EMULATOR_HOST": settings.storage_emulator_host,
        "THOTH_CACHE_DIR": str(settings.cache_dir),
        # A queue no test reaches (nothing here enqueues), so no Google credentials are needed.
        "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:9",
    }


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = thoth("--help", env={}, home=tmp_path)
    assert result.returncode == 0
    commands = ("ingest", "jobs", "index", "sources", "search", "mcp", "worker", "serve-webhook")
    for command in (*commands, "dev", "model"):
        assert command in result.stdout


def test_missing_credentials_is_one_clear_line(tmp_path: Path) -> None:
    result = thoth("jobs", env={"THOTH_PROJECT": "p"}, home=tmp_path)
    assert result.returncode == 1
    assert "no Google credentials found" in result.stderr
    assert 'eval "$(thoth dev env)"' in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_an_invalid_setting_is_named_by_its_variable_in_one_line(tmp_path: Path) -> None:
    env = {"THOTH_BUCKET": "x", "THOTH_INDEX_POLL_SECONDS": "soon"}
    for command in (("mcp", "--stdio"), ("jobs",), ("config",)):
        result = thoth(*command, env=env, home=tmp_path)
        assert result.returncode == 78, command
        lines = result.stderr.splitlines()
        assert lines[0].startswith("error: invalid setting THOTH_BUCKET: bucket must be 3-63")
        assert lines[1].startswith("error: invalid setting THOTH_INDEX_POLL_SECONDS: ")
        assert "Traceback" not in result.stderr + result.stdout
    aliased = thoth("config", env={"PORT": "eighty"}, home=tmp_path)
    assert aliased.stderr.startswith("error: invalid setting PORT: "), aliased.stderr


def test_storage_out_of_reach_is_one_clear_line(tmp_path: Path) -> None:
    """The usual cause: the local stack is down (`make down`, a reboot) in a shell that
    still has its env."""
    env = {
        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9",
        "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:9",
        "THOTH_BUCKET": "thoth",
    }
    # search exits "unavailable" (69) when no index loads, as with the stack up.
    for command, code in ((["sources", "list"], 1), (["search", "vacation days"], 69)):
        # Within the helper's 120 s: the client alone retries a refused connection that long.
        result = thoth(*command, env=env, home=tmp_path)
        assert result.returncode == code, result.stderr
        assert "cannot reach Cloud Storage at http://127.0.0.1:9" in result.stderr
        assert "make up" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout


def test_search_with_storage_out_of_reach_uses_the_local_copy(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    """Searched once (a copy in the cache), then searched with the stack down: results from
    the copy at once, and a warning that says why."""
    make_and_publish(store, tmp_path, SAMPLE_DOCS)
    env = stack_env(settings)
    assert thoth("search", "vacation days", env=env, home=tmp_path).returncode == 0
    env["STORAGE_EMULATOR_HOST"] = "http://127.0.0.1:9"
    result = thoth("search", "how many vacation days", "--json", env=env, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["path"] == "people/vacation.md"
    assert "cannot reach Cloud Storage" in result.stderr and "local copy" in result.stderr


def test_search_json_prints_cited_results(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    make_and_publish(store, tmp_path, SAMPLE_DOCS)
    result = thoth(
        "search", "how many vacation days do I get", "--json", "-k", "2",
        env=stack_env(settings), home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    top = output["results"][0]
    assert top["path"] == "people/vacation.md" and "25 days" in top["text"]
    assert len(output["results"]) == 2 and output["index_version"]


def test_search_without_credentials_says_what_to_do(tmp_path: Path) -> None:
    """The index store's error is caught to keep the last good index, so the search must
    give the same hint as every other command, not google-auth's own words."""
    result = thoth("search", "vacation", env={"THOTH_PROJECT": "p"}, home=tmp_path)
    assert result.returncode == 69
    assert "no Google credentials found" in result.stderr
    assert 'eval "$(thoth dev env)"' in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_search_bad_input_and_no_index_exit_with_their_category(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    env = stack_env(settings)
    nothing = thoth("search", "vacation", env=env, home=tmp_path)
    assert nothing.returncode == 69 and "no index could be loaded" in nothing.stderr
    make_and_publish(store, tmp_path, SAMPLE_DOCS)
    unknown = thoth("search", "vacation", "--source", "nope", env=env, home=tmp_path)
    assert unknown.returncode == 66 and "unknown source 'nope'" in unknown.stderr


def test_from_dir_is_refused_before_it_uploads_while_a_job_holds_the_source(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    """A refused ingest leaves the source's files as they were: the running job must not see
    them change, and the next ingest must not publish a folder the user was told was refused."""
    jobs = JobStore(store)
    running = Job(job_id=new_job_id(), source="docs")
    jobs.create(running)
    assert jobs.acquire_lock("docs", running.job_id) is None
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nSome text.\n")
    env = stack_env(settings)
    result = thoth("ingest", "docs", "--from-dir", str(folder), "--no-wait", env=env, home=tmp_path)
    assert result.returncode == 75, result.stderr
    assert f"already running: {running.job_id}" in result.stderr
    assert list(store.list_objects(source_prefix("docs"))) == []
    cancelled = thoth("cancel", running.job_id, env=env, home=tmp_path)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    shown = thoth("jobs", running.job_id, env=env, home=tmp_path)
    assert "reason: cancelled by `thoth cancel`" in shown.stdout
    again = thoth("cancel", running.job_id, env=env, home=tmp_path)
    assert "had already ended (failed); nothing to cancel" in again.stdout


def test_results_go_to_stdout_and_errors_exit_with_their_category(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    make_and_publish(store, tmp_path, SAMPLE_DOCS)
    env = stack_env(settings)
    listed = thoth("index", "list", "handbook", env=env, home=tmp_path)
    assert listed.returncode == 0 and "◀" in listed.stdout and listed.stderr == ""
    unknown = thoth("index", "list", "nope", env=env, home=tmp_path)
    assert unknown.returncode == 66 and "has no index versions" in unknown.stderr
    refused = thoth("ingest", "a/b", "--no-wait", env=env, home=tmp_path)
    assert refused.returncode == 65 and "invalid source name" in refused.stderr
    for bad in (["ingest", "x", "--timeout", "0"], ["mcp", "--port", "99999"]):
        assert thoth(*bad, env=env, home=tmp_path).returncode == 2, bad


def test_arguments_that_are_not_utf8_are_a_usage_error(tmp_path: Path) -> None:
    result = thoth("jobs", "\udcff", env={}, home=tmp_path)
    assert result.returncode == 2 and "is not valid UTF-8" in result.stderr
    assert "Traceback" not in result.stderr


def test_model_show_names_the_query_encoder(tmp_path: Path) -> None:
    result = thoth("model", "show", env={}, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "query encoder: OnnxQueryEncoder" in result.stdout


def test_the_webhook_receiver_refuses_to_start_without_its_settings(tmp_path: Path) -> None:
    no_source = thoth("serve-webhook", env={"THOTH_WEBHOOK_TOKEN": "t"}, home=tmp_path)
    env = {"THOTH_WEBHOOK_SOURCE": "handbook", "THOTH_WEBHOOK_PROJECT": "group/handbook"}
    no_token = thoth("serve-webhook", env=env, home=tmp_path)

    assert no_source.returncode == 1
    assert "THOTH_WEBHOOK_SOURCE and THOTH_WEBHOOK_PROJECT" in no_source.stderr
    assert no_token.returncode == 1  # no credentials here: Secret Manager is not reachable
    assert "set THOTH_WEBHOOK_TOKEN or the gitlab-webhook-token secret" in no_token.stderr
    assert "Traceback" not in no_source.stderr + no_token.stderr


def test_registration_options_without_a_registration_are_refused(
    settings: Settings, tmp_path: Path
) -> None:
    """They would be ignored: the stored configuration is only written while registering."""
    env = stack_env(settings)
    ref = thoth("ingest", "docs", "--ref", "dev", "--no-wait", env=env, home=tmp_path)
    assert ref.returncode == 2 and "--ref needs --gitlab" in ref.stderr
    url = thoth("ingest", "docs", "--base-url", "https://x.example", env=env, home=tmp_path)
    assert url.returncode == 2 and "--base-url needs --from-dir or --gitlab" in url.stderr


def test_from_dir_stores_a_new_base_url_for_an_existing_source(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    save_source(store, SourceConfig(name="docs", kind="upload", base_url="https://old.example"))
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nSome text.\n")
    args = ("ingest", "docs", "--from-dir", str(folder), "--base-url", "https://new.example")
    thoth(*args, "--no-wait", env=stack_env(settings), home=tmp_path)  # no queue: start fails
    assert get_source(store, "docs").base_url == "https://new.example"


def test_from_dir_names_the_files_it_left_out(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nSome text.\n")
    (folder / "big.md").write_text("# Big\n\n" + "words " * 100)
    env = {**stack_env(settings), "THOTH_MAX_FILE_BYTES": "200"}
    result = thoth("ingest", "docs", "--from-dir", str(folder), "--no-wait", env=env, home=tmp_path)
    said = " ".join(result.stderr.split())  # the console wraps at its width
    assert "1 added" in said
    assert "not uploaded: big.md: " in said and "200" in said


def test_a_job_names_the_files_it_skipped_for_their_type_and_warns_of_an_empty_index(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    skipped = [FileResult(path=f"img/{n}.png", outcome="skipped") for n in range(12)]
    job = Job(
        job_id=new_job_id(),
        source="pictures",
        status=JobStatus.succeeded,
        plan=Plan(skipped=skipped),
        counts=Counts(skipped=12),
    )
    JobStore(store).create(job)
    result = thoth("jobs", job.job_id, env=stack_env(settings), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "not a supported type (12): img/0.png, img/1.png" in result.stdout
    assert "img/9.png and 2 more" in result.stdout and "img/10.png" not in result.stdout
    assert "the index of 'pictures' is empty" in result.stdout and ".md" in result.stdout


def test_a_job_that_changed_nothing_names_the_version_it_kept(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    job = Job(job_id=new_job_id(), source="docs", status=JobStatus.succeeded, version="v0001")
    JobStore(store).create(job)
    result = thoth("jobs", job.job_id, env=stack_env(settings), home=tmp_path)
    assert "nothing changed: version v0001 stays served" in result.stdout


def test_sources_are_listed_and_one_is_removed_with_its_index(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    save_source(store, SourceConfig(name="handbook", kind="upload", base_url="https://hb.example"))
    make_and_publish(store, tmp_path, SAMPLE_DOCS)
    env = stack_env(settings)
    listed = thoth("sources", "list", env=env, home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "handbook" in listed.stdout and "v0001" in listed.stdout
    unconfirmed = thoth("sources", "remove", "handbook", env=env, home=tmp_path)
    assert unconfirmed.returncode == 2 and "add --yes to confirm" in unconfirmed.stderr
    removed = thoth("sources", "remove", "handbook", "--yes", env=env, home=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert "removed handbook" in removed.stdout and "it served v0001" in removed.stdout
    search = thoth("search", "vacation", env=env, home=tmp_path)
    assert search.returncode == 69 and "no index could be loaded" in search.stderr
    again = thoth("sources", "remove", "handbook", "--yes", env=env, home=tmp_path)
    assert again.returncode == 66 and "unknown source 'handbook'" in again.stderr
    invalid = thoth("sources", "remove", "../x", env=env, home=tmp_path)  # before any prompt
    assert invalid.returncode == 65 and "invalid source name" in invalid.stderr


def test_sources_list_shows_damaged_and_unregistered_ones(
    settings: Settings, store: BlobStore, tmp_path: Path
) -> None:
    for name in ("broken", "fine"):
        save_source(store, SourceConfig(name=name, kind="upload"))
    store.write(pointer_key("broken"), b"{not json")
    make_and_publish(store, tmp_path, SAMPLE_DOCS, source="orphan")  # served, not registered
    listed = thoth("sources", "list", env=stack_env(settings), home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[1]: line for line in listed.stdout.splitlines() if "│" in line[:2]}
    assert "(unreadable pointer)" in rows["broken"] and "fine" in rows
    assert "(not registered)" in rows["orphan"] and "v0001" in rows["orphan"]
