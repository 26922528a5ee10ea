"""Issue 14: pushes to the local GitLab keep a source's index following its branch.

Real processes throughout: fake-gcs-server, the Cloud Tasks emulator, the GitLab emulator
(commits pushed with git over smart HTTP), and the worker as a subprocess verifying the
emulator's tokens. Push tasks reach the worker as the webhook receiver sends them: named
Cloud Tasks, or (where a test needs each answer) POSTs with the tasks service account's token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.api_core.exceptions import NotFound

from tests.support.gitlab import TOKEN as GITLAB_TOKEN
from tests.support.gitlab import Clone, LocalGitLab, local_gitlab
from tests.support.inprocess import wait_until
from tests.support.pipeline import current_chunks
from tests.support.processes import free_port
from tests.support.stack import Emulator, cloud_tasks_emulator, ingestion_worker, stack_settings
from thoth.bucket.keys import source_prefix
from thoth.bucket.pointer import read_pointer
from thoth.bucket.pushes import LatestPush, read_push, record_push
from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.ingest.jobs import Job
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.follow_up import catch_up
from thoth.ingest.push import PUSH_PATH, PushTask, push_task_name
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import save_source
from thoth.ingest.sources.sync_state import load_state, save_state
from thoth.ingest.tasks import TaskQueue
from thoth.serve import tools
from thoth.serve.loader import IndexCache
from thoth.serve.search import SearchEngine

HANDBOOK = {
    "README.md": "# Handbook\n\nWelcome to the handbook of Example Corp.\n",
    "people/leave.md": (
        "# Leave\n\nEveryone gets 25 days of paid leave.\n\n## Notice\n\n"
        "Ask two weeks ahead for leave.\n\n# Parental leave\n\nSixteen weeks, fully paid.\n\n"
        "## Notice\n\nTell your manager three months ahead of parental leave.\n"
    ),
    "engineering/deploys.md": (
        "# Deploys\n\nWe deploy every weekday.\n\n## Freezes\n\nNo deploys in the holiday freeze.\n"
    ),
    "engineering/on-call.md": "# On-call\n\nA week at a time, with a secondary.\n",
    "finance/expenses.md": "# Expenses\n\nSubmit receipts within 30 days.\n",
}
PROJECTS = [f"group/handbook-{n}" for n in range(7)]
JOB_TIMEOUT = 240.0


@dataclass(frozen=True)
class Rig:
    ctx: Context
    worker_url: str
    gitlab: LocalGitLab
    tasks: Emulator
    workdir: Path

    def task_headers(self) -> dict[str, str]:
        settings = self.ctx.settings
        token = self.tasks.id_token(settings.tasks_service_account, settings.worker_audience)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def rig(gcs_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    workdir = tmp_path_factory.mktemp("push-sync")
    seed = workdir / "seed"
    for name, text in HANDBOOK.items():
        (seed / name).parent.mkdir(parents=True, exist_ok=True)
        (seed / name).write_text(text)
    with (
        cloud_tasks_emulator(log=workdir / "tasks.log") as tasks,
        local_gitlab(workdir, seed, PROJECTS) as gitlab,
    ):
        base = Settings(
            bucket=f"t-{uuid.uuid4().hex[:12]}",
            storage_emulator_host=gcs_url,
            cache_dir=workdir / "worker-cache",
            gitlab_url=gitlab.url,
            gitlab_token=GITLAB_TOKEN,
        )
        port = free_port()
        settings = stack_settings(base, tasks, port)
        store = BlobStore.from_settings(settings)
        store.ensure_bucket()
        with ingestion_worker(settings, port, log=workdir / "worker.log") as worker:
            local = settings.model_copy(update={"cache_dir": workdir / "test-cache"})
            yield Rig(Context(local, store, TaskQueue(local)), worker.url, gitlab, tasks, workdir)


# --- helpers ------------------------------------------------------------------------------
_counter = iter(range(1_000_000))


def new_source(rig: Rig, project: str, **config: Any) -> tuple[str, Clone]:
    name = f"gl-{uuid.uuid4().hex[:8]}"
    save_source(
        rig.ctx.store, SourceConfig(name=name, kind="gitlab", gitlab_project=project, **config)
    )
    clone = Clone.of(rig.gitlab, project, rig.workdir / f"clone-{name}")
    return name, clone


def push_task(source: str, commit: str, at: datetime | None = None) -> PushTask:
    return PushTask(
        source=source,
        commit=commit,
        ref="refs/heads/main",
        event_uuid=str(uuid.uuid4()),
        pushed_at=at or datetime.now(UTC),
    )


def enqueue(rig: Rig, task: PushTask) -> bool:
    """As the webhook receiver does: a Cloud Task named after the event."""
    name = push_task_name(task.event_uuid)
    return rig.ctx.tasks.enqueue(name, PUSH_PATH, task.model_dump(mode="json"))


def deliver(rig: Rig, task: PushTask) -> dict[str, Any]:
    """One delivery straight to the worker, with the tasks service account's token."""
    answer = httpx.post(
        f"{rig.worker_url}{PUSH_PATH}",
        content=task.model_dump_json(),
        headers={**rig.task_headers(), "Content-Type": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@contextmanager
def paused_queue(rig: Rig) -> Iterator[None]:
    assert isinstance(rig.ctx.tasks, TaskQueue)
    client, queue = rig.ctx.tasks.client, rig.ctx.settings.queue_path
    client.pause_queue(name=queue)
    try:
        yield
    finally:
        client.resume_queue(name=queue)


def jobs_of(rig: Rig, source: str) -> list[Job]:
    ids = rig.ctx.jobs.list_ids(500)
    return sorted(
        (job for job in (rig.ctx.jobs.get(i)[0] for i in ids) if job.source == source),
        key=lambda job: job.created_at,
    )


def wait_indexed(rig: Rig, source: str, commit: str) -> Job:
    """Until the index is at `commit` and no job of the source runs; the job that made it."""

    def done() -> bool:
        pointer, _ = read_pointer(rig.ctx.store, source)
        idle = all(job.status.finished for job in jobs_of(rig, source))
        return pointer is not None and pointer.commit == commit and idle

    wait_until(done, JOB_TIMEOUT, f"{source} indexed at {commit[:12]}")
    pointer, _ = read_pointer(rig.ctx.store, source)
    assert pointer is not None
    job, _ = rig.ctx.jobs.get(pointer.version)
    return job


def chunks_by_path(rig: Rig, source: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for chunk in current_chunks(rig.ctx, source, rig.workdir / f"dl-{next(_counter)}").values():
        found.setdefault(chunk.path, []).append(chunk)
    return found


# --- tests --------------------------------------------------------------------------------
def test_one_file_push_reembeds_only_that_file_with_permalinks_at_the_commit(rig: Rig) -> None:
    project = PROJECTS[0]
    source, clone = new_source(rig, project)
    first_commit = clone.head()
    assert enqueue(rig, push_task(source, first_commit))
    first = wait_indexed(rig, source, first_commit)
    assert first.commit == first_commit
    assert first.plan is not None and first.plan.changes_from.startswith("listing")
    assert first.counts is not None and first.counts.added == len(HANDBOOK)

    clone.write("people/leave.md", HANDBOOK["people/leave.md"] + "\n## Carry-over\n\nFive days.\n")
    commit = clone.commit_and_push("leave: carry-over")
    assert enqueue(rig, push_task(source, commit))
    job = wait_indexed(rig, source, commit)

    assert job.commit == commit
    assert job.plan is not None and job.plan.changes_from == f"compare since {first_commit}"
    assert job.counts is not None
    assert (job.counts.changed, job.counts.added, job.counts.deleted) == (1, 0, 0)
    assert job.counts.unchanged == len(HANDBOOK) - 1
    chunks = chunks_by_path(rig, source)
    assert job.counts.chunks_embedded == len(chunks["people/leave.md"])
    blob = f"{rig.gitlab.web_url(project)}/-/blob/{commit}"
    urls = {c.heading: c.url for c in chunks["people/leave.md"]}
    assert urls["Parental leave > Notice"] == f"{blob}/people/leave.md#notice-1"
    assert urls["Leave > Notice"] == f"{blob}/people/leave.md#notice"
    assert any(url.endswith("#carry-over") for url in urls.values())
    # carried over unchanged, yet pinned to the same commit as the rest of the snapshot
    assert [c.url for c in chunks["finance/expenses.md"]] == [
        f"{blob}/finance/expenses.md#expenses"
    ]


def test_rename_and_delete_reach_the_index(rig: Rig) -> None:
    source, clone = new_source(rig, PROJECTS[1])
    assert enqueue(rig, push_task(source, clone.head()))
    wait_indexed(rig, source, clone.head())

    clone.run("mv", "engineering/on-call.md", "engineering/on-call-rota.md")
    clone.run("rm", "--quiet", "finance/expenses.md")
    commit = clone.commit_and_push("rename on-call, drop expenses")
    assert enqueue(rig, push_task(source, commit))
    job = wait_indexed(rig, source, commit)

    assert job.plan is not None and job.plan.changes_from.startswith("compare since")
    assert job.counts is not None
    assert (job.counts.added, job.counts.deleted, job.counts.changed) == (1, 2, 0)
    paths = set(chunks_by_path(rig, source))
    assert "engineering/on-call-rota.md" in paths
    assert not paths & {"engineering/on-call.md", "finance/expenses.md"}
    prefix = source_prefix(source)
    mirror = {o.key.removeprefix(prefix) for o in rig.ctx.store.list_objects(prefix)}
    gone = {"engineering/on-call.md", "finance/expenses.md"}
    assert mirror == (set(HANDBOOK) - gone) | {"engineering/on-call-rota.md"}


def test_compare_is_not_trusted_after_a_force_push_or_when_it_fails(rig: Rig) -> None:
    source, clone = new_source(rig, PROJECTS[2])
    seed = clone.head()
    clone.write("finance/expenses.md", "# Expenses\n\nReceipts within 60 days.\n")
    ahead = clone.commit_and_push("expenses: 60 days")
    assert enqueue(rig, push_task(source, ahead))
    wait_indexed(rig, source, ahead)

    # The branch is rewritten: `ahead` leaves its history, so its change must be undone too.
    clone.run("reset", "--quiet", "--hard", seed)
    clone.write("engineering/on-call.md", "# On-call\n\nTwo weeks at a time.\n")
    rewritten = clone.commit_and_push("on-call: two weeks", force=True)
    assert enqueue(rig, push_task(source, rewritten))
    job = wait_indexed(rig, source, rewritten)
    assert job.plan is not None and "non-fast-forward" in job.plan.changes_from
    texts = {path: " ".join(c.text for c in cs) for path, cs in chunks_by_path(rig, source).items()}
    assert "30 days" in texts["finance/expenses.md"]
    assert "Two weeks" in texts["engineering/on-call.md"]

    # A synced commit GitLab does not know: compare answers 404 and the tree is listed.
    config = SourceConfig(name=source, kind="gitlab", gitlab_project=PROJECTS[2])
    state, generation = load_state(rig.ctx.store, config)
    save_state(rig.ctx.store, config, state.model_copy(update={"commit": "f" * 40}), generation)
    clone.write("README.md", "# Handbook\n\nWelcome, new starters.\n")
    latest = clone.commit_and_push("readme")
    assert enqueue(rig, push_task(source, latest))
    job = wait_indexed(rig, source, latest)
    assert job.plan is not None and job.plan.changes_from.startswith("listing (compare failed")
    assert job.counts is not None and (job.counts.changed, job.counts.unchanged) == (1, 4)


def test_stale_and_repeated_push_deliveries_change_nothing(rig: Rig) -> None:
    source, clone = new_source(rig, PROJECTS[3])
    seed = clone.head()
    clone.write("README.md", "# Handbook\n\nWelcome back.\n")
    commit = clone.commit_and_push("readme")
    task = push_task(source, commit)
    started = deliver(rig, task)
    assert (started["recorded"], started["status"]) == (True, "started")
    wait_indexed(rig, source, commit)

    repeat = deliver(rig, task)  # Cloud Tasks may deliver a task twice
    assert (repeat["recorded"], repeat["status"]) == (False, "indexed")
    late = deliver(rig, push_task(source, seed, at=task.pushed_at - timedelta(seconds=30)))
    assert (late["recorded"], late["status"]) == (False, "indexed")  # an older push, late
    assert enqueue(rig, task)  # the same push once more, through the queue this time
    assert not enqueue(rig, task)  # a redelivered webhook: Cloud Tasks refuses the name
    wait_until(lambda: _delivered(rig, task), 60, "the queued push delivered")

    latest, _ = read_push(rig.ctx.store, source)
    assert latest is not None and (latest.commit, latest.event_uuid) == (commit, task.event_uuid)
    assert len(jobs_of(rig, source)) == 1
    pointer, _ = read_pointer(rig.ctx.store, source)
    assert pointer is not None and pointer.commit == commit


def test_a_burst_of_pushes_during_a_job_gets_one_follow_up_at_the_last_commit(rig: Rig) -> None:
    source, clone = new_source(rig, PROJECTS[4])
    commits: list[str] = []
    answers: list[dict[str, Any]] = []
    # The queue holds the first job's tasks until every push has arrived: the job is running
    # (it holds the source) for the whole burst, however fast this machine is.
    with paused_queue(rig):
        for n in range(4):
            clone.write("people/leave.md", HANDBOOK["people/leave.md"] + f"\nRevision {n}.\n")
            commits.append(clone.commit_and_push(f"leave: revision {n}"))
            answers.append(deliver(rig, push_task(source, commits[-1])))
    assert [a["status"] for a in answers] == ["started", "pending", "pending", "pending"]
    assert [a["head"] for a in answers] == commits

    final = wait_indexed(rig, source, commits[-1])
    jobs = jobs_of(rig, source)
    assert [job.commit for job in jobs] == [commits[0], commits[-1]]  # one follow-up
    assert all(job.status == "succeeded" for job in jobs)
    assert final.job_id == jobs[-1].job_id
    texts = " ".join(c.text for c in chunks_by_path(rig, source)["people/leave.md"])
    assert "Revision 3." in texts and "Revision 0." not in texts


def test_a_late_or_resent_push_never_takes_the_index_back(rig: Rig) -> None:
    """GitLab sends each event from its own background job, in no set order, and a resent
    event carries a new X-Gitlab-Event-UUID: the receiver then stamps an older push after a
    newer one. The index stays at the branch's head."""
    source, clone = new_source(rig, PROJECTS[6])
    older = clone.head()
    clone.write("README.md", "# Handbook\n\nNewer welcome.\n")
    newer = clone.commit_and_push("readme: newer")
    assert deliver(rig, push_task(source, newer))["status"] == "started"
    wait_indexed(rig, source, newer)

    late = deliver(rig, push_task(source, older))  # accepted after the newer push
    assert [job.commit for job in jobs_of(rig, source)] == [newer]
    assert (late["status"], late["recorded"]) == ("indexed", False)
    assert (late["commit"], late["head"]) == (older, newer)
    latest, _ = read_push(rig.ctx.store, source)
    assert latest is not None and latest.commit == newer

    # Two deliveries that read the head in one instant can still record the older head:
    # the job it starts reads the head again when it ends, and follows it.
    clone.write("README.md", "# Handbook\n\nNewest welcome.\n")
    newest = clone.commit_and_push("readme: newest")
    now = datetime.now(UTC)
    assert record_push(rig.ctx.store, LatestPush(
        source=source, commit=older, ref="refs/heads/main", event_uuid="e", pushed_at=now,
        seen_at=now,
    ))  # fmt: skip
    stale = catch_up(rig.ctx, source)
    assert stale is not None and stale.commit == older
    final = wait_indexed(rig, source, newest)
    assert [job.commit for job in jobs_of(rig, source)] == [newer, older, newest]
    assert final.commit == newest


def test_results_and_list_sources_say_which_commit_and_how_far_behind(rig: Rig) -> None:
    project = PROJECTS[5]
    source, clone = new_source(rig, project)
    commit = clone.head()
    assert enqueue(rig, push_task(source, commit, at=datetime.now(UTC) - timedelta(minutes=1)))
    wait_indexed(rig, source, commit)
    cache = IndexCache(rig.ctx.settings, rig.ctx.store)
    cache.refresh()

    engine = SearchEngine(cache.indexes)
    found = tools.search_handbook(engine, "parental leave notice", source=source, mode="fulltext")
    top = found.results[0]
    pointer, _ = read_pointer(rig.ctx.store, source)
    assert pointer is not None
    assert (top.commit, top.indexed_at) == (commit, pointer.indexed_at)
    assert top.url.startswith(f"{rig.gitlab.web_url(project)}/-/blob/{commit}/people/leave.md#")
    document = tools.get_document(engine, "people/leave.md", source)
    assert document.commit == commit
    assert document.url == f"{rig.gitlab.web_url(project)}/-/blob/{commit}/people/leave.md"

    info = _source_info(cache, source)
    assert (info.commit, info.latest_push_commit, info.behind) == (commit, commit, False)
    assert info.behind_seconds is None

    # A push the worker knows of but has not indexed yet (recorded, no job started).
    clone.write("README.md", "# Handbook\n\nNews.\n")
    newer = clone.commit_and_push("news")
    pushed_at = datetime.now(UTC) - timedelta(seconds=5)
    assert record_push(rig.ctx.store, LatestPush(
        source=source, commit=newer, ref="refs/heads/main", event_uuid="e-1", pushed_at=pushed_at,
        seen_at=datetime.now(UTC),
    ))  # fmt: skip
    cache.refresh()
    info = _source_info(cache, source)
    assert (info.commit, info.latest_push_commit, info.behind) == (commit, newer, True)
    assert info.behind_seconds is not None and info.behind_seconds >= 5
    assert info.latest_push_at == pushed_at


def _source_info(cache: IndexCache, source: str) -> tools.SourceInfo:
    listed = tools.list_sources(SearchEngine(cache.indexes), cache.pushes).sources
    return next(info for info in listed if info.source == source)


def _delivered(rig: Rig, task: PushTask) -> bool:
    assert isinstance(rig.ctx.tasks, TaskQueue)
    queue = rig.ctx.tasks
    try:
        queue.client.get_task(name=queue.task_name(push_task_name(task.event_uuid)))
    except NotFound:
        return True
    return False
