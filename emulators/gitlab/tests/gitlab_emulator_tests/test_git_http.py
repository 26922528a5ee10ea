"""git over smart HTTP with the real git binary: clone, fetch, push and who may do which."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .support import HANDBOOK, PROJECT, PUBLIC, Emulator, Git, start_emulator, write_tree


def test_clone_with_token_checks_out_the_seed(
    emulator: Emulator, clone: Callable[..., Git]
) -> None:
    work = clone(emulator.git_url(PROJECT))
    for name, text in HANDBOOK.items():
        assert (work.cwd / name).read_text() == text
    assert work.out("log", "--format=%s") == "Initial commit"
    assert work.out("rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_token_works_as_password_with_any_username(
    emulator: Emulator, clone: Callable[..., Git]
) -> None:
    work = clone(emulator.git_url(PROJECT, user="someone"))
    assert (work.cwd / "README.md").exists()


def test_push_then_fetch_from_a_second_clone(emulator: Emulator, clone: Callable[..., Git]) -> None:
    first = clone(emulator.git_url(PROJECT), "first")
    second = clone(emulator.git_url(PROJECT), "second")
    (first.cwd / "docs" / "pushed.md").write_text("# Pushed\n")
    sha = first.commit_all("Add pushed page")
    first.run("push", "--quiet", "origin", "main")
    second.run("pull", "--quiet", "--ff-only")
    assert second.out("rev-parse", "HEAD") == sha
    assert (second.cwd / "docs" / "pushed.md").read_text() == "# Pushed\n"


def test_push_a_new_branch_and_delete_it(emulator: Emulator, clone: Callable[..., Git]) -> None:
    work = clone(emulator.git_url(PROJECT))
    work.run("checkout", "--quiet", "-b", "topic")
    (work.cwd / "topic.md").write_text("topic\n")
    sha = work.commit_all("Topic")
    work.run("push", "--quiet", "origin", "topic")
    remote = work.out("ls-remote", "origin", "refs/heads/topic")
    assert remote.split()[0] == sha
    work.run("push", "--quiet", "origin", "--delete", "topic")
    assert work.out("ls-remote", "origin", "refs/heads/topic") == ""


def test_public_project_clones_anonymously(emulator: Emulator, clone: Callable[..., Git]) -> None:
    work = clone(emulator.git_url(PUBLIC, token=None))
    assert (work.cwd / "index.md").read_text() == "# Public\n"


def test_anonymous_clone_of_private_project_is_challenged(
    emulator: Emulator, tmp_path: Path
) -> None:
    result = Git(tmp_path).run("clone", emulator.git_url(PROJECT, token=None), "x", check=False)
    assert result.returncode != 0
    assert "could not read Username" in result.stderr  # git was asked for credentials (401)


def test_wrong_token_is_denied(emulator: Emulator, tmp_path: Path) -> None:
    result = Git(tmp_path).run("clone", emulator.git_url(PROJECT, token="wrong"), "x", check=False)
    assert result.returncode != 0
    assert "HTTP Basic: Access denied" in result.stderr


def test_anonymous_push_to_public_project_is_challenged(
    emulator: Emulator, clone: Callable[..., Git]
) -> None:
    work = clone(emulator.git_url(PUBLIC, token=None))
    (work.cwd / "more.md").write_text("more\n")
    work.commit_all("More")
    result = work.run("push", "origin", "main", check=False)
    assert result.returncode != 0
    assert "could not read Username" in result.stderr


def test_unknown_project_is_404_for_a_valid_token(emulator: Emulator, tmp_path: Path) -> None:
    result = Git(tmp_path).run("clone", emulator.git_url("group/nope"), "x", check=False)
    assert result.returncode != 0
    assert "404" in result.stderr or "not found" in result.stderr.lower()


def test_protocol_v2_fetch(emulator: Emulator, tmp_path: Path) -> None:
    git = Git(tmp_path)
    result = git.run("-c", "protocol.version=2", "ls-remote", emulator.git_url(PROJECT))
    assert "refs/heads/main" in result.stdout


def test_plain_asyncio_and_h11_as_in_the_image(tmp_path: Path, clone: Callable[..., Git]) -> None:
    """The image has neither uvloop nor httptools: there a streamed answer used to race the
    request body (Starlette's disconnect listener swallowed it) and fetches hung."""
    seed = write_tree(tmp_path / "seed", HANDBOOK)
    plain = start_emulator(
        tmp_path,
        "--project", PROJECT,
        "--seed-dir", str(seed),
        "--http-impl", "h11",
        "--loop-impl", "asyncio",
    )  # fmt: skip
    try:
        for n in range(5):
            work = clone(plain.git_url(PROJECT), f"clone-{n}")
            (work.cwd / f"page-{n}.md").write_text(f"{n}\n")
            work.commit_all(f"Page {n}")
            work.run("push", "--quiet", "origin", "main")
        assert (work.cwd / "page-3.md").exists()
    finally:
        plain.stop()
