"""GitLab's heading anchors (thoth.parsing.anchors) and the permalinks built on them."""

from __future__ import annotations

import pytest

from thoth.ingest.sources.models import Citations
from thoth.parsing import parse_document
from thoth.parsing.anchors import HeadingAnchors, slug


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("This heading has spaces in it", "this-heading-has-spaces-in-it"),
        ("This heading has a 😺 in it", "this-heading-has-a-in-it"),  # emoji dropped, -- is one
        ("Chapter #1: Getting started!", "chapter-1-getting-started"),
        ("This - and that", "this-and-that"),  # runs of hyphens collapse
        ("snake_case stays", "snake_case-stays"),  # _ is a word character
        ("Ünicode Wörds", "ünicode-wörds"),  # letters of any script stay
        ("C++ & Rust (2024)", "c-rust-2024"),
        ("What's new?", "whats-new"),
    ],
)
def test_slug_follows_gitlabs_rules(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_duplicates_are_numbered_in_document_order() -> None:
    anchors = HeadingAnchors()
    got = [anchors.next(h) for h in ["Setup", "Usage", "Setup", "setup!", "Setup-1", "Setup"]]
    # "Setup-1" is a heading of its own whose slug collides with nothing generated before it
    assert got == ["setup", "usage", "setup-1", "setup-2", "setup-1", "setup-3"]


def test_markdown_blocks_carry_their_headings_anchor() -> None:
    text = b"# Leave\n\nIntro.\n\n## Notice\n\nTwo weeks.\n\n# Pay\n\n## Notice\n\nOne month.\n"
    blocks = parse_document("people/leave.md", text).blocks
    assert [(b.heading_path[-1], b.anchor) for b in blocks] == [
        ("Leave", "leave"),
        ("Notice", "notice"),
        ("Notice", "notice-1"),
    ]


def test_permalink_at_the_commit_with_the_anchor() -> None:
    commit = "a" * 40
    gitlab = Citations(web_url="https://gl.example/g/hb", commit=commit, path_prefix="content")
    assert gitlab.url("people/leave time.md", "notice-1") == (
        f"https://gl.example/g/hb/-/blob/{commit}/content/people/leave%20time.md#notice-1"
    )
    assert gitlab.url("files/plan.pdf", "ignored") == (
        f"https://gl.example/g/hb/-/blob/{commit}/content/files/plan.pdf"
    )
    site = Citations(
        base_url="https://hb.example", web_url="https://gl.example/g/hb", commit=commit
    )
    assert site.url("people/leave.md", "ünicode") == "https://hb.example/people/leave#%C3%BCnicode"
    assert Citations().url("people/leave.md", "notice") == ""
