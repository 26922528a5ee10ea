"""The public webhook receiver as a real uvicorn process, enqueueing into the real Cloud Tasks
emulator, which dispatches to a real HTTP server standing in for the worker's /tasks/push."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from google.api_core import exceptions as gexc

from tests.support.gitlab import Clone, local_gitlab
from tests.support.processes import free_port
from tests.support.stack import LOCATION, PROJECT, QUEUE, Emulator, cloud_tasks_emulator
from tests.support.webhook import StandInWorker, stand_in_worker, webhook_receiver
from thoth.config import Settings
from thoth.ingest.push import PUSH_PATH, PushTask, push_task_name
from thoth.ingest.tasks import TaskQueue

SECRET = secrets.token_urlsafe(24)
GITLAB_PROJECT = "group/handbook"
MAIN = "refs/heads/main"
ZERO = "0" * 40
GITLAB_BODY_LIMIT = 25 * 1024 * 1024  # GitLab's webhook request body limit


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    log = tmp_path_factory.mktemp("tasks") / "cloud-tasks.log"
    with cloud_tasks_emulator(log=log) as running_emulator:
        yield running_emulator


@pytest.fixture(scope="module")
def worker() -> Iterator[StandInWorker]:
    with stand_in_worker(free_port()) as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def receiver_settings(emulator: Emulator, worker: StandInWorker) -> Settings:
    return Settings(
        project=PROJECT,
        location=LOCATION,
        queue=QUEUE,
        cloud_tasks_emulator_host=emulator.grpc_address,
        worker_url=worker.url,
        webhook_source="handbook",
        webhook_project=GITLAB_PROJECT,
        webhook_ref="main",
        webhook_token=SECRET,  # type: ignore[arg-type]  # pydantic wraps it in SecretStr
        log_format="json",
    )


@pytest.fixture(scope="module")
def receiver_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("receiver") / "receiver.log"


@pytest.fixture(scope="module")
def receiver(receiver_settings: Settings, receiver_log: Path) -> Iterator[str]:
    with webhook_receiver(receiver_settings, free_port(), receiver_log) as url:
        yield url


def push_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "object_kind": "push",
        "event_name": "push",
        "before": "1" * 40,
        "after": "2" * 40,
        "ref": MAIN,
        "checkout_sha": "2" * 40,
        "project_id": 7,
        "project": {"id": 7, "path_with_namespace": GITLAB_PROJECT, "default_branch": "main"},
        "commits": [{"id": "2" * 40, "added": ["a.md"], "modified": [], "removed": []}],
        "total_commits_count": 1,
    }
    payload.update(changes)
    return payload


def post(
    receiver: str,
    payload: Any,
    *,
    token: str | None = SECRET,
    event: str = "Push Hook",
    event_uuid: str | None = None,
    idempotency_key: str | None = None,
    content: bytes | None = None,
    content_type: str = "application/json",
) -> httpx.Response:
    headers = {"Content-Type": content_type, "X-Gitlab-Event": event}
    headers["X-Gitlab-Webhook-UUID"] = "hook-1"
    if event_uuid is not None:
        headers["X-Gitlab-Event-UUID"] = event_uuid
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    if token is not None:
        headers["X-Gitlab-Token"] = token
    body = content if content is not None else json.dumps(payload).encode()
    return httpx.post(f"{receiver}/webhooks/gitlab", content=body, headers=headers, timeout=15)


def new_uuid() -> str:
    return str(uuid.uuid4())


def assert_not_enqueued(settings: Settings, event_uuid: str) -> None:
    queue = TaskQueue(settings)
    with pytest.raises(gexc.NotFound):
        queue.client.get_task(name=queue.task_name(push_task_name(event_uuid)))


def test_a_push_becomes_one_task_to_the_worker_with_the_tasks_oidc_token(
    receiver: str, worker: StandInWorker, receiver_settings: Settings, emulator: Emulator
) -> None:
    event_uuid = new_uuid()
    answer = post(receiver, push_payload(), event_uuid=event_uuid)

    assert answer.status_code == 202
    assert answer.json() == {"result": "enqueued", "task": push_task_name(event_uuid)}
    delivery = worker.wait_for(event_uuid)
    assert delivery.path == PUSH_PATH
    task = PushTask.model_validate(delivery.body)
    assert (task.source, task.commit, task.before, task.ref) == (
        "handbook",
        "2" * 40,
        "1" * 40,
        MAIN,
    )
    token = delivery.headers["Authorization"].removeprefix("Bearer ")
    keys = jwt.PyJWKClient(emulator.jwks_url)
    claims = jwt.decode(
        token,
        keys.get_signing_key_from_jwt(token).key,
        algorithms=["RS256"],
        audience=receiver_settings.worker_audience,
    )
    assert claims["email"] == receiver_settings.tasks_service_account


def test_a_redelivered_event_is_enqueued_once(receiver: str, worker: StandInWorker) -> None:
    event_uuid = new_uuid()
    first = post(receiver, push_payload(), event_uuid=event_uuid)
    worker.wait_for(event_uuid)
    again = post(receiver, push_payload(), event_uuid=event_uuid)

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["result"] == "duplicate"
    later = new_uuid()
    assert post(receiver, push_payload(), event_uuid=later).status_code == 202
    worker.wait_for(later)  # delivered after the duplicate would have been
    assert len(worker.for_event(event_uuid)) == 1


def test_a_resend_is_known_by_its_idempotency_key(receiver: str, worker: StandInWorker) -> None:
    """GitLab's "Resend Request" keeps the Idempotency-Key and makes a new event UUID."""
    key, first_uuid, resent_uuid = new_uuid(), new_uuid(), new_uuid()
    first = post(receiver, push_payload(), event_uuid=first_uuid, idempotency_key=key)
    worker.wait_for(first_uuid)
    again = post(receiver, push_payload(), event_uuid=resent_uuid, idempotency_key=key)

    assert first.json() == {"result": "enqueued", "task": push_task_name(key)}
    assert (again.status_code, again.json()["result"]) == (200, "duplicate")
    bad = post(receiver, push_payload(), event_uuid=new_uuid(), idempotency_key="a b")
    assert (bad.status_code, bad.json()["reason"]) == (
        400,
        "Idempotency-Key must be 1-64 letters, digits or dashes",
    )


@pytest.mark.parametrize(
    "token",
    [None, "", "wrong", SECRET[:-1], SECRET + "x"],
    ids=["missing", "empty", "forged", "prefix", "longer"],
)
def test_a_missing_or_forged_token_is_401_without_detail(
    receiver: str, receiver_settings: Settings, token: str | None
) -> None:
    event_uuid = new_uuid()
    answer = post(receiver, push_payload(), token=token, event_uuid=event_uuid)

    assert answer.status_code == 401
    assert answer.json() == {"result": "refused", "reason": "unauthorized"}
    assert_not_enqueued(receiver_settings, event_uuid)


@pytest.mark.parametrize(
    ("event", "changes", "reason"),
    [
        (
            "Push Hook",
            {"project": {"id": 8, "path_with_namespace": "other/handbook"}, "project_id": 8},
            "another project",
        ),
        ("Push Hook", {"ref": "refs/heads/feature"}, "another branch"),
        ("Push Hook", {"ref": "refs/tags/v1.0"}, "a tag push"),
        ("Tag Push Hook", {"object_kind": "tag_push", "ref": "refs/tags/v1.0"}, "is not a push"),
        ("Merge Request Hook", {"object_kind": "merge_request"}, "is not a push"),
        (
            "Push Hook",
            {"after": ZERO, "checkout_sha": None, "commits": []},
            "the branch was deleted",
        ),
    ],
    ids=[
        "wrong-project",
        "wrong-ref",
        "tag-ref",
        "tag-push-event",
        "non-push-event",
        "branch-deleted",
    ],
)
def test_events_for_other_projects_refs_or_kinds_are_ignored_with_2xx(
    receiver: str, receiver_settings: Settings, event: str, changes: dict[str, Any], reason: str
) -> None:
    event_uuid = new_uuid()
    answer = post(receiver, push_payload(**changes), event=event, event_uuid=event_uuid)

    # 2xx: GitLab would count anything else as a failing hook and disable it.
    assert answer.status_code == 200
    assert answer.json()["result"] == "ignored"
    assert reason in answer.json()["reason"]
    assert_not_enqueued(receiver_settings, event_uuid)


def test_a_new_branch_push_has_no_before(receiver: str, worker: StandInWorker) -> None:
    event_uuid = new_uuid()
    assert post(receiver, push_payload(before=ZERO), event_uuid=event_uuid).status_code == 202
    assert PushTask.model_validate(worker.wait_for(event_uuid).body).before is None


def test_a_project_configured_by_numeric_id_matches_project_id(
    receiver_settings: Settings, worker: StandInWorker, tmp_path: Path
) -> None:
    by_id = receiver_settings.model_copy(update={"webhook_project": "7"})
    with webhook_receiver(by_id, free_port(), tmp_path / "receiver.log") as url:
        matching, other = new_uuid(), new_uuid()
        assert post(url, push_payload(), event_uuid=matching).status_code == 202
        answer = post(url, push_payload(project_id=8, project={"id": 8}), event_uuid=other)
    assert answer.json()["reason"] == "another project"
    worker.wait_for(matching)


def test_an_oversized_body_is_413_before_parsing(
    receiver: str, receiver_settings: Settings
) -> None:
    event_uuid = new_uuid()
    padding = "x" * GITLAB_BODY_LIMIT
    answer = post(receiver, push_payload(message=padding), event_uuid=event_uuid)

    assert answer.status_code == 413
    assert_not_enqueued(receiver_settings, event_uuid)


def test_a_push_of_thousands_of_files_is_queued(receiver: str, worker: StandInWorker) -> None:
    """Each of up to 20 commits lists every path it touched: megabytes, well within what
    GitLab sends (25 MiB)."""
    paths = [f"handbook/team-{i // 100:03d}/page-{i:05d}.md" for i in range(20_000)]
    commits = [{"id": "2" * 40, "added": paths, "modified": [], "removed": []}] * 3
    payload = push_payload(commits=commits, total_commits_count=3)
    assert len(json.dumps(payload)) > 2 * 1024 * 1024
    event_uuid = new_uuid()
    answer = post(receiver, payload, event_uuid=event_uuid)

    assert answer.status_code == 202, answer.text
    worker.wait_for(event_uuid)


def test_an_oversized_chunked_body_is_413(receiver: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(GITLAB_BODY_LIMIT // 32768 + 1):
            yield b"[" * 32768

    headers = {
        "Content-Type": "application/json",
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Token": SECRET,
        "X-Gitlab-Event-UUID": new_uuid(),
    }
    answer = httpx.post(
        f"{receiver}/webhooks/gitlab", content=chunks(), headers=headers, timeout=15
    )
    assert answer.status_code == 413


def test_a_body_that_is_not_json_is_refused(receiver: str) -> None:
    as_text = post(receiver, None, event_uuid=new_uuid(), content=b"a=b", content_type="text/plain")
    malformed = post(receiver, None, event_uuid=new_uuid(), content=b'{"object_kind": "push",')
    not_a_push = post(receiver, {"object_kind": "push", "after": "nope"}, event_uuid=new_uuid())

    assert as_text.status_code == 415
    assert malformed.status_code == 400
    assert malformed.json()["reason"] == "the body is not valid JSON"
    assert not_a_push.status_code == 400


@pytest.mark.parametrize(
    "content",
    [b"[" * 50_000 + b"]" * 50_000, b'{"object_kind": "push", "project_id": ' + b"9" * 5000 + b"}"],
    ids=["nested-too-deep", "integer-too-long"],
)
def test_json_python_cannot_read_is_400_not_500(receiver: str, content: bytes) -> None:
    answer = post(receiver, None, event_uuid=new_uuid(), content=content)
    assert answer.status_code == 400
    assert answer.json()["reason"] == "the body is not valid JSON"


def test_the_event_uuid_is_required(receiver: str) -> None:
    answer = post(receiver, push_payload(), event_uuid=None)
    assert answer.status_code == 400
    assert "X-Gitlab-Event-UUID" in answer.json()["reason"]


@pytest.mark.parametrize("ref", [MAIN, "refs/heads/other"])
def test_a_malformed_event_uuid_is_refused_by_its_name_on_any_branch(
    receiver: str, ref: str
) -> None:
    answer = post(receiver, push_payload(ref=ref), event_uuid="a b", idempotency_key=new_uuid())
    assert (answer.status_code, answer.json()["reason"]) == (
        400,
        "X-Gitlab-Event-UUID must be 1-64 letters, digits or dashes",
    )


def test_only_the_webhook_and_health_routes_answer(receiver: str) -> None:
    assert httpx.get(f"{receiver}/health").json() == {"status": "ok"}
    assert httpx.get(f"{receiver}/webhooks/gitlab").status_code == 405
    for path in ("/docs", "/openapi.json", "/tasks/push", "/v1/jobs"):
        assert httpx.get(f"{receiver}{path}").status_code == 404


def test_one_json_log_line_per_request_and_never_the_token(
    receiver: str, receiver_log: Path
) -> None:
    event_uuid = new_uuid()
    post(receiver, push_payload(), token="forged-" + SECRET[:4], event_uuid=event_uuid)
    post(receiver, push_payload(ref="refs/heads/other"), event_uuid=event_uuid)

    text = receiver_log.read_text()
    assert SECRET not in text and SECRET[:4] + '"' not in text
    lines = [json.loads(line) for line in text.splitlines() if event_uuid in line]
    assert [(line["status"], line["result"]) for line in lines] == [
        (401, "refused"),
        (200, "ignored"),
    ]
    assert lines[1]["reason"] == "another branch"
    assert all(line["message"].startswith("POST /webhooks/gitlab") for line in lines)


def test_a_real_push_to_the_local_gitlab_reaches_the_worker(
    receiver: str, worker: StandInWorker, tmp_path: Path
) -> None:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "index.md").write_text("# Handbook\n\nFirst version.\n")
    hook = f"{receiver}/webhooks/gitlab"
    # `=`: a token_urlsafe secret starts with "-" one time in 64, and argparse would take
    # it for an option (the emulator then exited with "expected one argument").
    options = ("--hook", hook, f"--hook-token={SECRET}")
    with local_gitlab(tmp_path, seed, [GITLAB_PROJECT], *options) as gitlab:
        clone = Clone.of(gitlab, GITLAB_PROJECT, tmp_path / "work")
        before = clone.head()
        clone.write("index.md", "# Handbook\n\nSecond version.\n")
        after = clone.commit_and_push("Second version")
        clone.run("push", "--quiet", "origin", "main:feature")  # another branch: ignored

        deliveries = wait_for_deliveries(gitlab.url, 2)
        main = next(d for d in deliveries if d["request_data"]["ref"] == MAIN)
        resent = httpx.post(  # new event UUID, same Idempotency-Key: a duplicate
            f"{gitlab.url}/api/v4/projects/{main['project_id']}/hooks/{main['hook_id']}"
            f"/events/{main['id']}/resend",
            headers={"PRIVATE-TOKEN": gitlab.token},
            timeout=15,
        )
        assert resent.json() == {"response_status": "200"}

    by_ref = {d["request_data"]["ref"]: d for d in deliveries}
    main, feature = by_ref[MAIN], by_ref["refs/heads/feature"]
    assert main["response_status"] == "202"
    assert feature["response_status"] == "200"
    event_uuid = main["request_headers"]["X-Gitlab-Event-UUID"]
    task = PushTask.model_validate(worker.wait_for(event_uuid).body)
    assert (task.commit, task.before, task.ref, task.source) == (after, before, MAIN, "handbook")
    assert worker.for_event(feature["request_headers"]["X-Gitlab-Event-UUID"]) == []


def wait_for_deliveries(gitlab_url: str, count: int, timeout: float = 30.0) -> list[Any]:
    """The emulator's recorded webhook deliveries once `count` of them have an answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = httpx.get(f"{gitlab_url}/-/emulator/deliveries", timeout=5).json()
        answered = [d for d in found if d["response_status"]]
        if len(answered) >= count:
            return list(answered)
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} webhook deliveries within {timeout}s")


@contextmanager
def silent_listener() -> Iterator[str]:
    """A port that accepts connections and never answers: a Cloud Tasks that hangs."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


def test_a_cloud_tasks_that_hangs_is_answered_503_within_gitlabs_10_seconds(
    receiver_settings: Settings, tmp_path: Path
) -> None:
    """The client's own call timeout is 20 s: the receiver bounds each call by its budget,
    or GitLab would time out, count a failure, and in the end disable the hook."""
    with silent_listener() as address:
        settings = receiver_settings.model_copy(update={"cloud_tasks_emulator_host": address})
        with webhook_receiver(settings, free_port(), tmp_path / "receiver.log") as url:
            started = time.monotonic()
            answer = post(url, push_payload(), event_uuid=new_uuid())
            took = time.monotonic() - started

    assert answer.status_code == 503
    assert answer.json()["result"] == "failed"
    assert took < 10, f"answered after {took:.1f} s"
