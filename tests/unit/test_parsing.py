"""Dispatch, markdown, plain text and hostile inputs."""

from __future__ import annotations

import json
import sys

import pytest

from thoth.parsing import (
    SUPPORTED_EXTENSIONS,
    Block,
    ParseError,
    UnsupportedFileType,
    is_supported,
    parse_document,
)

HANDBOOK_PAGE = b"""---
title: Time off policy
updated: 2024-03-01
tags: [people, leave]
---
# Time off

We offer {{< note >}}generous{{< /note >}} leave.
{{% panel header="Info" %}}Panel body text.{{% /panel %}}

## Parental leave

- Birth parents get 20 weeks.
- Other parents get 12 weeks.
  1. Apply in Workday.
  2. Tell your manager.

```python
def weeks(parent):
    return 20


    # the blank lines above stay inside the fence
```

| Country | Weeks |
|---------|-------|
| UK      | 20    |
| US \\| CA | 16  |

<div class="callout"><b>Tip:</b> plan early.<script>track()</script></div>

### Paperwork

Fill in the form.

# Holidays

Public holidays follow your country.
"""


def test_dispatch_is_by_extension_case_insensitive() -> None:
    assert {".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm"} <= SUPPORTED_EXTENSIONS
    assert is_supported("a/B.MD") and is_supported("x.Html") and is_supported("notes.txt")
    assert not is_supported("image.png") and not is_supported("Makefile")
    assert parse_document("README.MD", b"# Hi\n\nthere").title == "Hi"
    with pytest.raises(UnsupportedFileType):
        parse_document("photo.png", b"\x89PNG")


def test_markdown_frontmatter_title_and_json_safe_metadata() -> None:
    doc = parse_document("people/time-off.md", HANDBOOK_PAGE)
    assert doc.path == "people/time-off.md"
    assert doc.title == "Time off policy"
    assert doc.metadata == {
        "title": "Time off policy",
        "updated": "2024-03-01",
        "tags": ["people", "leave"],
    }
    json.dumps(doc.metadata)


def test_a_frontmatter_description_is_the_first_text_block() -> None:
    front = b'---\ntitle: Structure\ndescription: "At most {{< x >}}eight layers"\n---\n'
    page = front + b"# Layers\n\nBody.\n"
    doc = parse_document("company/structure.md", page)
    assert doc.blocks[0] == Block(heading_path=(), text="At most eight layers")
    assert doc.blocks[1].heading_path == ("Layers",)
    for value in (b"description: 42", b"description: ''", b"other: x"):
        plain = parse_document("a.md", b"---\n" + value + b"\n---\nBody.\n")
        assert [b.text for b in plain.blocks] == ["Body."]


def test_markdown_headings_build_heading_paths() -> None:
    doc = parse_document("p.md", HANDBOOK_PAGE)
    paths = [block.heading_path for block in doc.blocks]
    assert paths[0] == ("Time off",)
    assert ("Time off", "Parental leave") in paths
    assert ("Time off", "Parental leave", "Paperwork") in paths
    assert paths[-1] == ("Holidays",)  # an H1 closes every deeper section


def test_markdown_shortcodes_are_stripped_but_their_text_kept() -> None:
    doc = parse_document("p.md", HANDBOOK_PAGE)
    intro = "\n".join(block.text for block in doc.blocks if block.heading_path == ("Time off",))
    assert "We offer generous leave." in intro
    assert "Panel body text." in intro
    assert "{{" not in doc.text and "%}}" not in doc.text


def test_markdown_code_fence_is_one_code_block() -> None:
    doc = parse_document("p.md", HANDBOOK_PAGE)
    [code] = [block for block in doc.blocks if block.kind == "code"]
    assert code.text.startswith("def weeks(parent):\n    return 20\n")
    assert code.text.endswith("# the blank lines above stay inside the fence")


def test_markdown_table_becomes_pipe_rows_with_header_first() -> None:
    doc = parse_document("p.md", HANDBOOK_PAGE)
    [table] = [block for block in doc.blocks if block.kind == "table"]
    assert table.text.splitlines() == ["| Country | Weeks |", "| UK | 20 |", "| US \\| CA | 16 |"]


def test_markdown_lists_and_html_fragments_become_readable_text() -> None:
    doc = parse_document("p.md", HANDBOOK_PAGE)
    texts = [block.text for block in doc.blocks if block.kind == "text"]
    assert (
        "- Birth parents get 20 weeks.\n- Other parents get 12 weeks.\n"
        "  1. Apply in Workday.\n  2. Tell your manager."
    ) in texts
    assert "Tip: plan early." in texts
    assert "track()" not in doc.text


def test_title_falls_back_to_first_h1_then_file_name() -> None:
    assert parse_document("a.md", b"intro\n\n# Real title\n\ntext").title == "Real title"
    assert parse_document("people/parental-leave.md", b"no heading").title == "Parental leave"
    assert parse_document("people/_index.md", b"no heading").title == "People"


def test_broken_frontmatter_keeps_the_body_with_empty_metadata() -> None:
    doc = parse_document("a.md", b"---\ntitle: [unclosed\n---\n# Body title\n\nStill indexed.")
    assert doc.metadata == {}
    assert doc.title == "Body title"
    assert doc.blocks == [Block(("Body title",), "Still indexed.", "text")]


def test_document_text_has_headings_and_all_blocks() -> None:
    doc = parse_document("p.md", HANDBOOK_PAGE)
    text = doc.text
    assert text.startswith("# Time off\n\nWe offer generous leave.")
    assert "## Parental leave" in text and "### Paperwork" in text and "# Holidays" in text
    for block in doc.blocks:
        assert block.text in text


def test_plain_text_paragraphs_are_blocks() -> None:
    doc = parse_document("notes/on-call.txt", b"First para\nline two.\r\n\r\nSecond para.\n")
    assert doc.title == "On call"
    assert [block.text for block in doc.blocks] == ["First para\nline two.", "Second para."]
    assert all(block.heading_path == () for block in doc.blocks)


# --- hostile inputs ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.md", "empty.txt", "empty.html", "empty.pdf", "e.docx"])
@pytest.mark.parametrize("data", [b"", b"  \n\t\n"])
def test_empty_file_is_a_document_with_no_blocks(name: str, data: bytes) -> None:
    doc = parse_document(name, data)
    assert doc.blocks == [] and doc.text == ""


@pytest.mark.parametrize("name", ["logo.md", "data.txt", "page.html"])
def test_binary_data_under_a_text_name_is_a_parse_error(name: str) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    with pytest.raises(ParseError, match="binary"):
        parse_document(name, png)


def test_control_character_soup_without_nul_is_binary() -> None:
    with pytest.raises(ParseError, match="binary"):
        parse_document("x.md", bytes(range(1, 32)) * 100)


def test_invalid_utf8_is_decoded_with_replacement_characters() -> None:
    doc = parse_document("latin1.md", "# Café\n\nNaïve résumé policy.".encode("latin-1"))
    assert doc.title == "Caf\ufffd"
    assert doc.blocks[0].text == "Na\ufffdve r\ufffdsum\ufffd policy."


def test_bom_and_utf16_are_decoded() -> None:
    assert parse_document("a.md", b"\xef\xbb\xbf# Title\n\nx").title == "Title"
    assert parse_document("a.txt", "Hello wörld".encode("utf-16")).blocks[0].text == "Hello wörld"


def test_large_markdown_parses(tmp_path: object) -> None:
    section = HANDBOOK_PAGE.split(b"---\n", 2)[2]
    data = section * (5_000_000 // len(section))
    doc = parse_document("big.md", data)
    assert len(doc.blocks) > 10_000


def test_unclosed_shortcodes_do_not_blow_up() -> None:
    doc = parse_document("x.md", b"{{< " * 200_000 + b"end")
    assert doc.blocks


def test_ten_thousand_row_table() -> None:
    rows = "".join(f"| {i} | value {i} |\n" for i in range(10_000))
    doc = parse_document("t.md", f"| n | v |\n|---|---|\n{rows}".encode())
    [table] = doc.blocks
    lines = table.text.splitlines()
    assert len(lines) == 10_001 and lines[0] == "| n | v |" and lines[-1] == "| 9999 | value 9999 |"


def test_fifty_levels_of_nested_lists_keep_the_innermost_text() -> None:
    data = "".join("  " * depth + f"- level {depth}\n" for depth in range(50))
    doc = parse_document("n.md", data.encode())
    assert "level 49" in doc.text


def test_pathological_nesting_does_not_recurse_out_of_the_stack() -> None:
    deep = b">" * 20_000 + b" quote\n\n" + b"[" * 20_000 + b"\n\n" + b"- " * 5_000 + b"x"
    parse_document("deep.md", deep)
    html = b"<div>" * 5_000 + b"deep text" + b"</div>" * 5_000
    parse_document("deep.html", html)
    assert sys.getrecursionlimit() <= 10_000


def test_deep_heading_levels_repeated() -> None:
    data = "".join(f"{'#' * (i % 6 + 1)} H{i}\n\ntext {i}\n\n" for i in range(600)).encode()
    doc = parse_document("h.md", data)
    assert len(doc.blocks) == 600
    assert doc.blocks[5].heading_path == ("H0", "H1", "H2", "H3", "H4", "H5")
    assert doc.blocks[6].heading_path == ("H6",)


def test_frontmatter_alias_bomb_is_dropped() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 9):
        ref = f"*l{n - 1}" if n > 1 else "*a"
        levels.append(f"l{n}: &l{n} [{', '.join([ref] * 10)}]")
    data = ("---\n" + "\n".join(levels) + "\n---\n# Page\n\nbody").encode()
    doc = parse_document("bomb.md", data)
    assert doc.metadata == {} and doc.title == "Page"


FIGURES = b"""# Expenses

## Refresh

Unused funds do not roll over.

![Approved WFH Equipment List](/images/approved-wfh-equipment-list.png)

## Approved WFH equipment list

- Keyboard

## Supplies

![A chart of spending](/images/chart.png)

## Gifts

Gifts are capped ![Gifts](/images/gifts.png) per person.

## Other

- ![Other](/images/other.png)

## Other
"""


def test_a_lone_figure_before_a_heading_of_its_name_opens_that_section_too() -> None:
    blocks = [(b.heading_path[-1], b.text) for b in parse_document("e.md", FIGURES).blocks]
    assert blocks == [
        ("Refresh", "Unused funds do not roll over."),
        ("Refresh", "Approved WFH Equipment List"),  # where it stands, as before
        ("Approved WFH equipment list", "Approved WFH Equipment List"),  # and its section's
        ("Approved WFH equipment list", "- Keyboard"),
        ("Supplies", "A chart of spending"),  # another name: the next section does not get it
        ("Gifts", "Gifts are capped Gifts per person."),  # inside a paragraph: stays
        ("Other", "- Other"),  # in a list: stays
    ]
