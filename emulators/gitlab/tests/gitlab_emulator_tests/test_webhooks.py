"""Push webhooks: GitLab's headers and Push Hook payload, branch filters, the hooks API, and
GitLab's failure behaviour (no automatic retry; temporarily disabled after 4 consecutive
failures, permanently after 40; a successful test request re-enables)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .support import (
    HANDBOOK,
    PROJECT,
    Emulator,
    Git,
    Receiver,
    encoded,
    start_emulator,
    wait_for,
    write_tree,
)

SECRET = "hook-secret"
ZERO = "0" * 40
HOOKS = f"/projects/{encoded(PROJECT)}/hooks"


@pytest.fixture
def make_emulator(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def make(*args: str, data_dir: Path | None = None) -> Emulator:
        seed = write_tree(tmp_path / "seed", HANDBOOK)
        proc = start_emulator(
            tmp_path, "--project", PROJECT, "--seed-dir", str(seed), *args, data_dir=data_dir
        )
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def hooked(make_emulator: Callable[..., Emulator], receiver: Receiver) -> Emulator:
    return make_emulator("--hook", receiver.url, "--hook-token", SECRET)


def _push_change(work: Git, name: str, text: str = "x\n", ref: str = "main") -> str:
    (work.cwd / name).write_text(text)
    sha = work.commit_all(f"Change {name}")
    work.run("push", "--quiet", "origin", f"HEAD:refs/heads/{ref}")
    return sha


def _hook(emulator: Emulator, hook_id: int = 1) -> dict[str, Any]:
    return dict(emulator.api().get(f"{HOOKS}/{hook_id}").json())


def _deliveries(emulator: Emulator, count: int) -> list[dict[str, Any]]:
    return wait_for(  # type: ignore[no-any-return]
        lambda: (found := emulator.deliveries()) and len(found) >= count and found
    )


# --- what a push sends ---------------------------------------------------------------------
def test_push_sends_the_documented_headers_and_payload(
    hooked: Emulator, receiver: Receiver, clone: Callable[..., Git]
) -> None:
    work = clone(hooked.git_url(PROJECT))
    before = work.out("rev-parse", "HEAD")
    (work.cwd / "added.md").write_text("new\n")
    (work.cwd / "README.md").write_text("# Handbook\n\nChanged.\n")
    first = work.commit_all("First change")
    work.run("rm", "--quiet", "people/leave.md")
    second = work.commit_all("Second change")
    work.run("push", "--quiet", "origin", "main")

    [request] = receiver.wait_count(1)
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["x-gitlab-event"] == "Push Hook"
    assert headers["x-gitlab-token"] == SECRET
    assert headers["x-gitlab-instance"] == hooked.url
    assert headers["user-agent"].startswith("GitLab/")
    assert headers["content-type"] == "application/json"
    for name in ("x-gitlab-event-uuid", "x-gitlab-webhook-uuid", "idempotency-key"):
        uuid.UUID(headers[name])

    body = request.json()
    project_id = hooked.api().get(f"/projects/{encoded(PROJECT)}").json()["id"]
    assert body["object_kind"] == body["event_name"] == "push"
    assert (body["before"], body["after"], body["checkout_sha"]) == (before, second, second)
    assert body["ref"] == "refs/heads/main"
    assert body["user_username"] == "root" and body["user_id"] == 1
    assert body["project_id"] == project_id == body["project"]["id"]
    assert body["project"]["path_with_namespace"] == PROJECT
    assert body["project"]["git_http_url"] == f"{hooked.url}/{PROJECT}.git"
    assert body["repository"]["git_http_url"] == f"{hooked.url}/{PROJECT}.git"
    assert body["total_commits_count"] == 2
    commits = body["commits"]
    assert [c["id"] for c in commits] == [first, second]
    assert commits[0]["added"] == ["added.md"]
    assert commits[0]["modified"] == ["README.md"]
    assert commits[1]["removed"] == ["people/leave.md"]
    assert commits[0]["author"] == {"name": "Ada Lovelace", "email": "ada@example.com"}
    assert commits[0]["url"] == f"{hooked.url}/{PROJECT}/-/commit/{first}"
    assert commits[0]["timestamp"] == work.out("show", "-s", "--format=%aI", first)

    [delivery] = _deliveries(hooked, 1)
    assert delivery["response_status"] == "200"
    assert delivery["request_headers"]["X-Gitlab-Token"] == "[REDACTED]"


def test_new_and_deleted_branches(
    hooked: Emulator, receiver: Receiver, clone: Callable[..., Git]
) -> None:
    work = clone(hooked.git_url(PROJECT))
    work.run("checkout", "--quiet", "-b", "topic")
    sha = _push_change(work, "topic.md", ref="topic")
    work.run("push", "--quiet", "origin", "--delete", "topic")
    first, second = receiver.wait_count(2)
    created, deleted = first.json(), second.json()
    for name in ("X-Gitlab-Webhook-UUID", "X-Gitlab-Event-UUID", "Idempotency-Key"):
        assert first.headers[name] != second.headers[name]  # one per request, as in GitLab
    assert (created["before"], created["after"], created["ref"]) == (ZERO, sha, "refs/heads/topic")
    assert [c["id"] for c in created["commits"]] == [sha]  # only what main did not have
    assert (deleted["before"], deleted["after"]) == (sha, ZERO)
    assert deleted["checkout_sha"] is None
    assert deleted["commits"] == [] and deleted["total_commits_count"] == 0


def test_payload_keeps_the_20_newest_commits(
    hooked: Emulator, receiver: Receiver, clone: Callable[..., Git]
) -> None:
    work = clone(hooked.git_url(PROJECT))
    shas = []
    for n in range(22):
        (work.cwd / "counter.md").write_text(f"{n}\n")
        shas.append(work.commit_all(f"Commit {n}"))
    work.run("push", "--quiet", "origin", "main")
    body = receiver.wait_count(1)[0].json()
    assert body["total_commits_count"] == 22
    assert [c["id"] for c in body["commits"]] == shas[2:]


def test_a_push_of_more_than_3_refs_fires_no_webhook(
    hooked: Emulator, receiver: Receiver, clone: Callable[..., Git]
) -> None:
    work = clone(hooked.git_url(PROJECT))
    work.run("push", "--quiet", "origin", *(f"HEAD:refs/heads/b{n}" for n in range(4)))
    work.run("push", "--quiet", "origin", *(f"HEAD:refs/heads/c{n}" for n in range(3)))
    refs = sorted(r.json()["ref"] for r in receiver.wait_count(3))
    assert refs == [f"refs/heads/c{n}" for n in range(3)]
    time.sleep(0.3)
    assert len(receiver.received()) == 3


def test_the_hooks_limit_counts_each_kind_of_change_apart(
    hooked: Emulator, receiver: Receiver, clone: Callable[..., Git]
) -> None:
    """GitLab groups a push's changes by ref type and action: main pushed beside four new
    tags, or beside four new branches, still fires main's hook (the new branches' does not)."""
    work = clone(hooked.git_url(PROJECT))
    for n in range(4):
        work.run("tag", f"limit-v{n}")
    (work.cwd / "limit.md").write_text("limit\n")
    work.commit_all("Beside the tags")
    work.run("push", "--quiet", "origin", "main", *(f"limit-v{n}" for n in range(4)))
    [first] = receiver.wait_count(1)
    assert first.json()["ref"] == "refs/heads/main"
    (work.cwd / "limit.md").write_text("limit again\n")
    work.commit_all("Beside new branches")
    work.run("push", "--quiet", "origin", "main", *(f"HEAD:refs/heads/d{n}" for n in range(4)))
    received = receiver.wait_count(2)
    time.sleep(0.3)
    assert [r.json()["ref"] for r in receiver.received()] == ["refs/heads/main"] * 2
    assert len(received) == 2


def test_a_tag_push_fires_no_webhook(
    hooked: Emulator, receiver: Receiver, clone: Callable[..., Git]
) -> None:
    work = clone(hooked.git_url(PROJECT))
    work.run("tag", "v1.0")
    work.run("push", "--quiet", "origin", "v1.0")
    assert work.out("ls-remote", "--tags", "origin").endswith("refs/tags/v1.0")
    _push_change(work, "after-tag.md")
    [request] = receiver.wait_count(1)
    assert request.json()["ref"] == "refs/heads/main"
    assert len(hooked.deliveries()) == 1


def test_state_survives_a_restart(
    make_emulator: Callable[..., Emulator],
    receiver: Receiver,
    clone: Callable[..., Git],
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "kept"
    first = make_emulator(data_dir=data_dir)
    first.api().post(HOOKS, json={"url": receiver.url})
    sha = _push_change(clone(first.git_url(PROJECT)), "kept.md")
    first.stop()
    second = make_emulator(data_dir=data_dir)
    project = second.api().get(f"/projects/{encoded(PROJECT)}").json()
    assert project["id"] == 1
    branch = second.api().get(f"/projects/{encoded(PROJECT)}/repository/branches/main").json()
    assert branch["commit"]["id"] == sha  # the seed did not overwrite the history
    assert [h["url"] for h in second.api().get(HOOKS).json()] == [receiver.url]


# --- the hooks API ---------------------------------------------------------------------------
def test_hooks_api_add_list_show_delete(
    make_emulator: Callable[..., Emulator], receiver: Receiver
) -> None:
    emulator = make_emulator()
    api = emulator.api()
    created = api.post(
        HOOKS,
        json={"url": receiver.url, "token": SECRET, "push_events_branch_filter": "release/*"},
    )
    assert created.status_code == 201
    hook = created.json()
    assert hook["url"] == receiver.url and hook["push_events"] is True
    assert hook["push_events_branch_filter"] == "release/*"
    assert hook["alert_status"] == "executable" and "token" not in hook
    assert api.get(HOOKS).json() == [hook]
    assert api.get(f"{HOOKS}/{hook['id']}").json() == hook
    assert api.post(HOOKS, json={"push_events": True}).json() == {"error": "url is missing"}
    assert api.delete(f"{HOOKS}/{hook['id']}").status_code == 204
    assert api.get(f"{HOOKS}/{hook['id']}").json() == {"message": "404 Hook Not Found"}


def test_branch_filter(
    make_emulator: Callable[..., Emulator], receiver: Receiver, clone: Callable[..., Git]
) -> None:
    emulator = make_emulator()
    api = emulator.api()
    api.post(HOOKS, data={"url": receiver.url, "push_events_branch_filter": "release/*"})
    work = clone(emulator.git_url(PROJECT))
    _push_change(work, "one.md")
    _push_change(work, "two.md", ref="release/1.0")
    [request] = receiver.wait_count(1)
    time.sleep(0.3)
    assert len(receiver.received()) == 1
    assert request.json()["ref"] == "refs/heads/release/1.0"


# --- failures --------------------------------------------------------------------------------
def test_failures_are_not_retried_and_disable_the_hook_after_four(
    hooked: Emulator, receiver: Receiver, clone: Callable[..., Git]
) -> None:
    receiver.status = 500
    work = clone(hooked.git_url(PROJECT))
    for n in range(4):
        _push_change(work, f"fail-{n}.md")
        _deliveries(hooked, n + 1)
        expected = "executable" if n < 3 else "temporarily_disabled"
        assert _hook(hooked)["alert_status"] == expected
    assert len(receiver.received()) == 4  # one request per push: no retries
    hook = _hook(hooked)
    disabled_until = hook["disabled_until"]
    assert disabled_until is not None
    events = hooked.api().get(f"{HOOKS}/1/events").json()
    assert [e["response_status"] for e in events] == ["500"] * 4

    _push_change(work, "dropped.md")  # a disabled hook gets nothing, not even later
    time.sleep(0.5)
    assert len(receiver.received()) == 4

    receiver.status = 200
    tested = hooked.api().post(f"{HOOKS}/1/test/push_events")
    assert tested.status_code == 201
    assert _hook(hooked)["alert_status"] == "executable"
    assert _hook(hooked)["disabled_until"] is None


def test_permanently_disabled_after_40_failures(
    make_emulator: Callable[..., Emulator], receiver: Receiver, clone: Callable[..., Git]
) -> None:
    emulator = make_emulator(
        "--hook", receiver.url,
        "--webhook-initial-backoff", "0.01",
        "--webhook-max-backoff", "0.02",
    )  # fmt: skip
    receiver.status = 404
    api = emulator.api()
    for _ in range(40):
        assert api.post(f"{HOOKS}/1/test/push_events").status_code == 422
        time.sleep(0.03)  # let each temporary disablement run out
    assert _hook(emulator)["alert_status"] == "disabled"
    work = clone(emulator.git_url(PROJECT))
    _push_change(work, "ignored.md")
    time.sleep(0.5)
    assert len(receiver.received()) == 40
    receiver.status = 200
    assert api.post(f"{HOOKS}/1/test/push_events").status_code == 201
    assert _hook(emulator)["alert_status"] == "executable"


def test_a_timeout_is_a_failure(
    make_emulator: Callable[..., Emulator], receiver: Receiver, clone: Callable[..., Git]
) -> None:
    emulator = make_emulator("--hook", receiver.url, "--webhook-timeout", "0.5")
    receiver.delay = 1.5
    work = clone(emulator.git_url(PROJECT))
    _push_change(work, "slow.md")
    [delivery] = _deliveries(emulator, 1)
    assert delivery["response_status"] == "internal error"
    assert delivery["internal_error_message"] == "ReadTimeout"
    time.sleep(1.5)
    assert len(receiver.received()) == 1


def test_resend_keeps_the_body_and_idempotency_key_with_new_uuids(
    hooked: Emulator, receiver: Receiver, clone: Callable[..., Git]
) -> None:
    receiver.status = 503
    work = clone(hooked.git_url(PROJECT))
    _push_change(work, "resend.md")
    [failed] = _deliveries(hooked, 1)
    receiver.status = 200
    resent = hooked.api().post(f"{HOOKS}/1/events/{failed['id']}/resend")
    assert resent.status_code == 201 and resent.json() == {"response_status": "200"}
    first, second = receiver.wait_count(2)
    assert first.body == second.body
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    for name in ("X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID"):
        assert first.headers[name] != second.headers[name]  # a receiver keyed on them sees
        uuid.UUID(second.headers[name])  # a new event, as GitLab's resends are
    assert second.headers["X-Gitlab-Token"] == SECRET


def test_deliveries_are_not_queued_behind_each_other(
    hooked: Emulator, receiver: Receiver, clone: Callable[..., Git]
) -> None:
    """GitLab sends each event from its own Sidekiq job: a slow answer to one does not hold
    the next back, so nothing keeps them in order."""
    receiver.delay = 3.0
    work = clone(hooked.git_url(PROJECT))
    first = _push_change(work, "one.md")
    second = _push_change(work, "two.md")
    arrived = receiver.wait_count(2, timeout=2.5)  # before the first one is answered
    assert {r.json()["after"] for r in arrived} == {first, second}


def test_a_random_delay_before_each_delivery(
    make_emulator: Callable[..., Emulator], receiver: Receiver, clone: Callable[..., Git]
) -> None:
    emulator = make_emulator("--hook", receiver.url, "--webhook-max-delay", "1.5")
    work = clone(emulator.git_url(PROJECT))
    pushed = [_push_change(work, f"n{n}.md") for n in range(3)]
    arrived = receiver.wait_count(3, timeout=10)
    assert sorted(r.json()["after"] for r in arrived) == sorted(pushed)


def test_deliveries_endpoint_filters_by_project_and_hook(
    hooked: Emulator, receiver: Receiver, clone: Callable[..., Git]
) -> None:
    work = clone(hooked.git_url(PROJECT))
    _push_change(work, "listed.md")
    _deliveries(hooked, 1)
    assert len(hooked.deliveries(project_id=1, hook_id=1)) == 1
    assert hooked.deliveries(project_id=2) == []
    assert httpx.get(f"{hooked.url}/-/emulator/deliveries").status_code == 200


# --- redirects -------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [307, 308])
def test_a_redirect_is_followed_as_gitlabs_http_client_follows_it(
    make_emulator: Callable[..., Emulator],
    receiver: Receiver,
    clone: Callable[..., Git],
    status: int,
) -> None:
    """A hook URL with a trailing slash, as a web framework redirects it: GitLab's HTTP client
    follows a 307 or 308 with the same method, body and headers, and records the final
    answer."""
    receiver.answers["/hook/"] = (status, "/hook")
    emulator = make_emulator("--hook", receiver.url + "/", "--hook-token", SECRET)
    _push_change(clone(emulator.git_url(PROJECT)), "moved.md")
    [delivery] = _deliveries(emulator, 1)
    assert delivery["response_status"] == "200"
    first, second = receiver.wait_count(2)
    assert (first.method, first.path, second.method, second.path) == (
        "POST", "/hook/", "POST", "/hook",
    )  # fmt: skip
    assert second.body == first.body and second.headers["X-Gitlab-Token"] == SECRET


def test_a_302_turns_into_a_get_and_an_unfollowed_3xx_counts_as_success(
    make_emulator: Callable[..., Emulator], receiver: Receiver, clone: Callable[..., Git]
) -> None:
    """After a 301, 302 or 303 the client asks again with GET (a POST-only receiver answers
    405, a failure); a 3xx it does not follow (no Location) is GitLab's `:ok`: the failure
    count is reset, though a test request still reports it as failed (it needs a 2xx)."""
    receiver.answers["/hook"] = (302, "/elsewhere")
    receiver.answers["/elsewhere"] = (405, None)
    emulator = make_emulator("--hook", receiver.url)
    work = clone(emulator.git_url(PROJECT))
    for n in range(3):
        _push_change(work, f"get-{n}.md")
        _deliveries(emulator, n + 1)
    first, second = receiver.received()[:2]
    assert (first.method, second.method, second.body) == ("POST", "GET", b"")
    assert [d["response_status"] for d in emulator.deliveries()] == ["405"] * 3
    receiver.answers["/hook"] = (300, None)  # a 3xx without Location: the final answer
    _push_change(work, "unfollowed.md")
    assert _deliveries(emulator, 4)[0]["response_status"] == "300"
    receiver.answers["/hook"] = (500, None)
    for n in range(3):  # three failures after the reset: still executable
        _push_change(work, f"again-{n}.md")
        _deliveries(emulator, 5 + n)
    assert _hook(emulator)["alert_status"] == "executable"
    receiver.answers["/hook"] = (300, None)
    assert emulator.api().post(f"{HOOKS}/1/test/push_events").status_code == 422


def test_a_redirect_loop_is_an_error_after_five_requests(
    make_emulator: Callable[..., Emulator], receiver: Receiver, clone: Callable[..., Git]
) -> None:
    receiver.answers["/hook"] = (307, "/hook")
    emulator = make_emulator("--hook", receiver.url)
    _push_change(clone(emulator.git_url(PROJECT)), "loop.md")
    [delivery] = _deliveries(emulator, 1)
    assert delivery["response_status"] == "internal error"
    assert delivery["internal_error_message"] == "Gitlab::HTTP_V2::RedirectionTooDeep"
    assert len(receiver.received()) == 5
