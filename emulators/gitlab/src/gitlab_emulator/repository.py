"""A project's bare git repository, read and written with the real `git` binary.

Everything the REST API reports (trees, blobs, commits, compares, branches) is read from
here, so the API always answers what `git` itself would say about the same repository.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40
_COMMIT_FORMAT = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B%x00"
_COMMIT_FIELDS = 9


class GitError(Exception):
    """`git` failed; the message carries its stderr."""


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: list[str]
    author: Person
    authored_date: str
    committer: Person
    committed_date: str
    message: str

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0]


@dataclass(frozen=True)
class TreeEntry:
    sha: str
    name: str
    kind: str  # "blob", "tree" or "commit" (a submodule)
    path: str
    mode: str


@dataclass(frozen=True)
class FileChange:
    """One file of a diff between two trees, with GitLab's flags."""

    old_path: str
    new_path: str
    old_mode: str
    new_mode: str
    status: str  # git's letter: A, D, M, R, T, C

    @property
    def new_file(self) -> bool:
        return self.status == "A"

    @property
    def deleted_file(self) -> bool:
        return self.status == "D"

    @property
    def renamed_file(self) -> bool:
        return self.status == "R"


@dataclass(frozen=True)
class Stats:
    additions: int
    deletions: int


class Repository:
    def __init__(self, path: Path) -> None:
        self.path = path

    # --- Git LFS objects (where git-lfs keeps them in a bare repository) ----------------
    def _lfs_path(self, oid: str) -> Path:
        return self.path / "lfs" / "objects" / oid[:2] / oid[2:4] / oid

    def lfs_object(self, oid: str) -> bytes | None:
        path = self._lfs_path(oid)
        return path.read_bytes() if path.is_file() else None

    def store_lfs_object(self, oid: str, data: bytes) -> None:
        path = self._lfs_path(oid)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)

    # --- plumbing ---------------------------------------------------------------------
    def git(
        self, *args: str, env: Mapping[str, str] | None = None, ok: tuple[int, ...] = (0,)
    ) -> bytes:
        command = ["git", "--git-dir", str(self.path), *args]
        full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
        result = subprocess.run(command, capture_output=True, env=full_env, check=False)
        if result.returncode not in ok:
            stderr = result.stderr.decode(errors="replace").strip()
            raise GitError(f"git {args[0]} failed ({result.returncode}): {stderr}")
        return result.stdout

    def text(self, *args: str) -> str:
        return self.git(*args).decode()

    # --- creation ---------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, default_branch: str) -> Repository:
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
            check=True,
            capture_output=True,
        )
        repo = cls(path)
        # Authorization is the emulator's job; git http-backend only needs to allow it.
        repo.git("config", "http.receivepack", "true")
        return repo

    def seed(self, directory: Path, branch: str, author: Person, message: str) -> str:
        """Commit every file of `directory` as the first commit on `branch`."""
        identity = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": author.name,
            "GIT_COMMITTER_EMAIL": author.email,
        }
        with tempfile.TemporaryDirectory() as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index"), "GIT_WORK_TREE": str(directory)}
            self.git("add", "--all", "--force", "--", ":/", env=env)
            tree = self.git("write-tree", env=env).decode().strip()
        sha = self.git("commit-tree", tree, "-m", message, env=identity).decode().strip()
        self.git("update-ref", f"refs/heads/{branch}", sha, ZERO_SHA)
        return sha

    # --- refs -------------------------------------------------------------------------
    def refs(self) -> dict[str, str]:
        """Every ref and the object it points at."""
        out = self.text("for-each-ref", "--format=%(objectname) %(refname)")
        pairs = (line.split(" ", 1) for line in out.splitlines() if line)
        return {name: sha for sha, name in pairs}

    def resolve_commit(self, revision: str) -> str | None:
        if not revision or revision.startswith("-"):
            return None
        out = self.git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", ok=(0, 1))
        return out.decode().strip() or None

    def branch_head(self, branch: str) -> str | None:
        return self.refs().get(f"refs/heads/{branch}")

    def is_empty(self) -> bool:
        return not any(name.startswith("refs/heads/") for name in self.refs())

    # --- trees and blobs --------------------------------------------------------------
    def tree(self, commit: str, path: str, recursive: bool) -> list[TreeEntry] | None:
        """Entries under `path` at `commit`, or None when `path` is not a directory there."""
        if path:
            kind = self.git("cat-file", "-t", f"{commit}:{path}", ok=(0, 1, 128)).strip()
            if kind != b"tree":
                return None
        args = ["ls-tree", "-z", "--full-tree"]
        if recursive:
            args += ["-r", "-t"]
        args.append(commit)
        if path:
            args += ["--", f"{path}/"]
        entries = [_tree_entry(record) for record in self.git(*args).split(b"\0") if record]
        return entries if recursive else sorted(entries, key=lambda e: e.kind != "tree")

    def object_type(self, sha: str) -> str | None:
        out = self.git("cat-file", "-t", sha, ok=(0, 1, 128)).decode().strip()
        return out or None

    def blob(self, sha: str) -> bytes:
        return self.git("cat-file", "blob", sha)

    def blob_at(self, commit: str, path: str) -> str | None:
        """The blob id of `path` at `commit`, or None."""
        out = self.git("ls-tree", "-z", "--full-tree", commit, "--", path).split(b"\0")[0]
        if not out:
            return None
        entry = _tree_entry(out)
        return entry.sha if entry.kind == "blob" and entry.path == path else None

    # --- history ----------------------------------------------------------------------
    def commit(self, revision: str) -> Commit | None:
        sha = self.resolve_commit(revision)
        if sha is None:
            return None
        return _parse_commits(self.git("show", "-s", f"--format={_COMMIT_FORMAT}", sha))[0]

    def log(
        self, revisions: list[str], path: str = "", skip: int = 0, limit: int = 0
    ) -> list[Commit]:
        args = ["log", f"--format={_COMMIT_FORMAT}", f"--skip={skip}"]
        if limit:
            args.append(f"--max-count={limit}")
        args += [*revisions, "--"]
        if path:
            args.append(path)
        return _parse_commits(self.git(*args))

    def count(self, revisions: list[str], path: str = "") -> int:
        args = ["rev-list", "--count", *revisions, "--"]
        if path:
            args.append(path)
        return int(self.text(*args).strip() or "0")

    def merge_base(self, a: str, b: str) -> str | None:
        out = self.git("merge-base", a, b, ok=(0, 1)).decode().strip()
        return out or None

    def stats(self, sha: str) -> Stats:
        out = self.text("show", "--numstat", "--format=", "--no-renames", sha)
        additions = deletions = 0
        for line in out.splitlines():
            added, deleted, _ = line.split("\t", 2)
            additions += int(added) if added.isdigit() else 0
            deletions += int(deleted) if deleted.isdigit() else 0
        return Stats(additions, deletions)

    # --- diffs ------------------------------------------------------------------------
    def changes(self, old: str | None, new: str, renames: bool = True) -> list[FileChange]:
        """Files that differ between commits `old` (None: the empty tree) and `new`."""
        args = ["diff-tree", "-r", "-z", "--no-commit-id", "-M" if renames else "--no-renames"]
        args += [old, new] if old else ["--root", new]
        return _parse_raw_diff(self.git(*args))

    def patches(self, old: str, new: str) -> dict[str, str]:
        """Per new path, the diff text from its first hunk header (GitLab's `diff` field)."""
        out = self.git(
            "-c", "core.quotePath=false", "diff", "-M", "--no-color", "--no-ext-diff", old, new
        ).decode(errors="replace")
        patches: dict[str, str] = {}
        for section in out.split("\ndiff --git "):
            header, _, hunks = section.partition("\n@@")
            path = _new_path_from_header(header)
            if path is not None:
                patches[path] = ("@@" + hunks).rstrip("\n") + "\n" if hunks else ""
        return patches


# --- parsing -------------------------------------------------------------------------------
def _tree_entry(record: bytes) -> TreeEntry:
    meta, _, raw_path = record.partition(b"\t")
    mode, kind, sha = meta.decode().split(" ")
    path = raw_path.decode(errors="surrogateescape")
    return TreeEntry(sha=sha, name=path.rsplit("/", 1)[-1], kind=kind, path=path, mode=mode)


def _parse_commits(out: bytes) -> list[Commit]:
    fields = out.decode(errors="replace").split("\0")
    commits = []
    for start in range(0, len(fields) - _COMMIT_FIELDS + 1, _COMMIT_FIELDS):
        sha, parents, an, ae, ad, cn, ce, cd, message = fields[start : start + _COMMIT_FIELDS]
        commits.append(
            Commit(
                sha=sha.strip(),
                parents=parents.split(),
                author=Person(an, ae),
                authored_date=ad,
                committer=Person(cn, ce),
                committed_date=cd,
                message=message,
            )
        )
    return commits


def _parse_raw_diff(out: bytes) -> list[FileChange]:
    tokens = out.decode(errors="surrogateescape").split("\0")
    changes, index = [], 0
    while index < len(tokens) and tokens[index].startswith(":"):
        old_mode, new_mode, _, _, status = tokens[index][1:].split(" ")
        letter = status[0]
        if letter in ("R", "C"):
            old_path, new_path = tokens[index + 1], tokens[index + 2]
            index += 3
        else:
            old_path = new_path = tokens[index + 1]
            index += 2
        changes.append(FileChange(old_path, new_path, old_mode, new_mode, letter))
    return changes


def _new_path_from_header(header: str) -> str | None:
    for line in header.splitlines():
        if line.startswith("+++ b/"):
            return line[len("+++ b/") :]
        if line.startswith("rename to "):
            return line[len("rename to ") :]
    for line in header.splitlines():
        if line.startswith("--- a/"):  # a deleted file: keyed by its old path
            return line[len("--- a/") :]
    first = header.splitlines()[0] if header else ""
    if first.startswith(("a/", "diff --git a/")):
        return first.rsplit(" b/", 1)[-1]
    return None
