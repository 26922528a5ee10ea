"""The error taxonomy: every expected failure has one category, mapped once per edge."""

from __future__ import annotations

import pytest

from thoth.bucket.store import NotFound, PreconditionFailed
from thoth.errors import Category, ThothError, exit_code, http_status, is_permanent
from thoth.ingest.jobs import LeaseLost
from thoth.ingest.pipeline.claim import NotReady
from thoth.ingest.pipeline.finalize import IndexMovedOn
from thoth.ingest.pipeline.start import JobConflict
from thoth.ingest.sources.directory import DirectoryNotFoundError
from thoth.ingest.sources.gitlab import GitLabAuthError, GitLabError, GitLabNotFoundError
from thoth.ingest.sources.registry import RegistryError, UnknownSourceError
from thoth.ingest.sources.roots import FolderNotAllowedError
from thoth.ingest.sources.sync import EmptySourceError
from thoth.ingest.sources.sync_state import SyncConflictError
from thoth.paths import UnsafePathError

CASES: list[tuple[ThothError, Category, bool]] = [
    (UnknownSourceError("x", []), Category.not_found, True),
    (DirectoryNotFoundError("gone"), Category.not_found, True),
    (GitLabNotFoundError("no such ref"), Category.not_found, True),
    (NotFound("k"), Category.not_found, True),
    (JobConflict("s", "j"), Category.conflict, False),
    (NotReady("later"), Category.conflict, False),
    (SyncConflictError("raced"), Category.conflict, False),
    (PreconditionFailed("k"), Category.conflict, False),
    (LeaseLost("s", "a", "b"), Category.conflict, True),
    (IndexMovedOn("moved"), Category.conflict, True),
    (EmptySourceError("empty"), Category.invalid_input, True),
    (RegistryError("bad json"), Category.invalid_input, True),
    (UnsafePathError("../x", "dots"), Category.invalid_input, True),
    (GitLabError("502 after retries"), Category.unavailable, False),
    (GitLabAuthError("token revoked"), Category.forbidden, True),
    (FolderNotAllowedError("/proc/self"), Category.forbidden, True),
]


@pytest.mark.parametrize(("error", "category", "permanent"), CASES)
def test_each_error_has_its_category(
    error: ThothError, category: Category, permanent: bool
) -> None:
    assert error.category == category
    assert is_permanent(error) is permanent


def test_old_bases_still_catch() -> None:
    assert isinstance(UnknownSourceError("x", []), LookupError)
    assert isinstance(DirectoryNotFoundError("gone"), FileNotFoundError)
    assert isinstance(UnsafePathError("x"), ValueError)


def test_each_category_maps_once_to_a_status_and_an_exit_code() -> None:
    statuses = {c: http_status(c) for c in Category}
    codes = {c: exit_code(c) for c in Category}
    assert statuses == {
        Category.not_found: 404,
        Category.conflict: 409,
        Category.invalid_input: 422,
        Category.unavailable: 503,
        Category.forbidden: 403,
    }
    assert len(set(codes.values())) == len(Category) and 1 not in codes.values()


def test_unknown_errors_are_transient() -> None:
    assert not is_permanent(RuntimeError("boom"))
