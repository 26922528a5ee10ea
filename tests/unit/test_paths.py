"""Every outside path is normalised or refused before it becomes part of an object key."""

from __future__ import annotations

import pytest

from thoth.paths import MAX_PATH_BYTES, UnsafePathError, safe_prefix, safe_relative_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a/b.md", "a/b.md"),
        ("./a/b.md", "a/b.md"),
        ("././a//b/./c.md", "a/b/c.md"),
        ("folder/", "folder"),
        ("ünïcode/日本.md", "ünïcode/日本.md"),
        ("a..b/c...md", "a..b/c...md"),  # dots inside names are fine
        ("with space/x.md", "with space/x.md"),
    ],
)
def test_normalises(raw: str, expected: str) -> None:
    assert safe_relative_path(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        (".", "empty"),
        ("./", "empty"),
        ("//", "absolute"),
        ("/etc/passwd", "absolute"),
        ("C:/Windows/x", "absolute"),
        ("../secret", "'..'"),
        ("a/../../b", "'..'"),
        ("a/..", "'..'"),
        ("..\\..\\etc\\passwd", "backslash"),
        ("a\\b.md", "backslash"),
        ("a\x00b.md", "control"),
        ("a\nb.md", "control"),
        ("a\x7fb.md", "control"),
        ("a/\udcff.md", "UTF-8"),
        ("x" * (MAX_PATH_BYTES + 1), "1024 bytes"),
        ("é" * (MAX_PATH_BYTES // 2 + 1), "1024 bytes"),  # under 1024 chars, over 1024 bytes
    ],
)
def test_rejects(raw: str, reason: str) -> None:
    with pytest.raises(UnsafePathError, match=reason) as caught:
        safe_relative_path(raw)
    assert isinstance(caught.value, ValueError)
    assert "unsafe path" in str(caught.value)


def test_longest_allowed_path() -> None:
    assert safe_relative_path("x" * MAX_PATH_BYTES) == "x" * MAX_PATH_BYTES


def test_prefix_may_be_empty_but_not_unsafe() -> None:
    assert safe_prefix("") == ""
    assert safe_prefix("./") == ""
    assert safe_prefix("content/handbook/") == "content/handbook"
    with pytest.raises(UnsafePathError):
        safe_prefix("../content")


def test_message_only_form() -> None:
    error = UnsafePathError("name in body does not match the URL")
    assert str(error) == "name in body does not match the URL"
