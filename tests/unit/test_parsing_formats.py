"""PDF, DOCX and HTML parsing on documents built in the test."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from tests.support.pdfs import make_pdf, with_outline
from thoth.parsing import Block, ParseError, parse_document


def encrypted(pdf: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_metadata({"/Title": "Security policy"})
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_pages_are_sections() -> None:
    doc = parse_document("policies/travel-policy.PDF", make_pdf(["Book trains.", "Expense it."]))
    assert doc.title == "Travel policy"
    assert doc.metadata["pages"] == 2
    assert doc.blocks == [Block(("Page 1",), "Book trains."), Block(("Page 2",), "Expense it.")]


def test_pdf_bookmarks_name_the_sections_of_their_pages() -> None:
    pages = [
        "Contents\nBenefits 2\nParental leave 2",
        "Benefits\nEveryone is covered.\nParental leave\nTwenty weeks, paid.",
        "Leave starts any time\nbefore the birth.",
    ]
    outline = [("Benefits", 1, None), ("Parental  leave", 1, 0), ("Not on the page", 2, 0)]
    doc = parse_document("b.pdf", with_outline(make_pdf(pages), outline))
    assert doc.blocks == [
        Block(("Page 1",), "Contents\nBenefits 2\nParental leave 2"),
        Block(("Benefits", "Page 2"), "Benefits\nEveryone is covered."),
        Block(("Benefits", "Parental leave", "Page 2"), "Parental leave\nTwenty weeks, paid."),
        Block(
            ("Benefits", "Not on the page", "Page 3"), "Leave starts any time\nbefore the birth."
        ),
    ]


def test_a_pdf_bookmark_not_found_on_its_page_does_not_take_a_found_ones_text() -> None:
    page = "Benefits\nEveryone is covered."
    outline = [("Benefits", 0, None), ("Missing", 0, None)]
    doc = parse_document("b.pdf", with_outline(make_pdf([page, "Next page."]), outline))
    assert doc.blocks == [
        Block(("Benefits", "Page 1"), page),
        Block(("Missing", "Page 2"), "Next page."),
    ]


def test_a_pdf_outline_that_cannot_be_read_leaves_the_pages() -> None:
    pdf = with_outline(make_pdf(["Lock your screen."]), [("Security", 0, None)])
    broken = pdf.replace(b"/Outlines", b"/Outlinez").replace(b"/Title", b"/Titlez")
    doc = parse_document("s.pdf", broken)
    assert doc.blocks == [Block(("Page 1",), "Lock your screen.")]


def test_pdf_with_empty_user_password_is_read_and_titled_from_metadata() -> None:
    doc = parse_document("x.pdf", encrypted(make_pdf(["Lock your screen."]), ""))
    assert doc.title == "Security policy"
    assert doc.blocks[0].text == "Lock your screen."


def test_password_protected_pdf_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="encrypted"):
        parse_document("x.pdf", encrypted(make_pdf(["secret"]), "hunter2"))


@pytest.mark.parametrize("data", [b"%PDF-1.4 garbage", b"not a pdf at all", make_pdf(["x"])[:150]])
def test_broken_pdf_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError, match="unreadable PDF"):
        parse_document("broken.pdf", data)


def with_metadata(pdf: bytes, metadata: dict[str, str]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_metadata(metadata)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("date", ["2024-01-01", "Mon Jan  1 12:00:00 2024"])
def test_pdf_malformed_creation_date_is_ignored_not_fatal(date: str) -> None:
    pdf = with_metadata(
        make_pdf(["Work from anywhere."]), {"/Title": "Remote", "/CreationDate": date}
    )
    doc = parse_document("remote.pdf", pdf)
    assert doc.title == "Remote" and "created" not in doc.metadata
    assert doc.blocks == [Block(("Page 1",), "Work from anywhere.")]


@pytest.mark.parametrize("title", ["Untitled", "untitled-2", "  ", "Microsoft Word - draft.docx"])
def test_pdf_placeholder_title_falls_back_to_the_file_name(title: str) -> None:
    doc = parse_document("remote-work.pdf", with_metadata(make_pdf(["x"]), {"/Title": title}))
    assert doc.title == "Remote work"


def broken_pages(pdf: bytes, *texts: str) -> bytes:
    """The pages of these texts with a content stream pypdf cannot extract text from."""
    for text in texts:
        pdf = pdf.replace(b"Td (%s)" % text.encode(), b"Td ] ] (%s)" % text.encode())
    return pdf


def test_pdf_page_that_cannot_be_read_is_skipped() -> None:
    pdf = broken_pages(make_pdf(["One.", "Two.", "Three."]), "Two.")
    doc = parse_document("a.pdf", pdf)
    assert doc.metadata["pages"] == 3
    assert doc.blocks == [Block(("Page 1",), "One."), Block(("Page 3",), "Three.")]


def test_pdf_whose_every_page_fails_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="unreadable PDF"):
        parse_document("a.pdf", broken_pages(make_pdf(["One.", "Two."]), "One.", "Two."))


def test_pdf_of_pages_without_text_is_a_parse_error_that_names_ocr() -> None:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)  # as a scanned page reads: no text to extract
    writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ParseError, match=r"no text on any of its 2 pages \(0 unreadable; .*OCR"):
        parse_document("scan.pdf", out.getvalue())


def make_docx() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Core title"
    document.core_properties.author = "People team"
    document.add_paragraph("Preamble before any heading.")
    document.add_heading("Benefits", level=1)
    document.add_paragraph("Health insurance from day one.")
    document.add_heading("Pension", level=2)
    document.add_paragraph("Matched up to 5%.", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for cell, text in zip(
        table.rows[0].cells + table.rows[1].cells, ["Plan", "Match", "A", "5%"], strict=True
    ):
        cell.text = text
    document.add_heading("Holidays", level=1)
    document.add_paragraph("25 days.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_headings_tables_lists_and_metadata() -> None:
    doc = parse_document("people/benefits.docx", make_docx())
    assert doc.title == "Benefits"  # first heading 1 wins over the core title
    assert doc.metadata["title"] == "Core title" and doc.metadata["author"] == "People team"
    assert isinstance(doc.metadata["created"], str)
    assert doc.blocks == [
        Block((), "Preamble before any heading."),
        Block(("Benefits",), "Health insurance from day one."),
        Block(("Benefits", "Pension"), "- Matched up to 5%."),
        Block(("Benefits", "Pension"), "| Plan | Match |\n| A | 5% |", "table"),
        Block(("Holidays",), "25 days."),
    ]


def test_broken_docx_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="unreadable DOCX"):
        parse_document("x.docx", b"PK\x03\x04 not really a zip")
    with pytest.raises(ParseError, match="unreadable DOCX"):
        parse_document("x.docx", make_docx()[:500])


def test_docx_zip_bomb_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * 210_000_000)
    with pytest.raises(ParseError, match="inflates"):
        parse_document("bomb.docx", out.getvalue())


PAGE = b"""<!doctype html><html><head><title>Site | Expenses</title>
<meta name="description" content="How to claim expenses"><style>p{color:red}</style></head>
<body><nav><a href="/">Home</a></nav>
<h1>Expenses</h1><p>Claim within <b>30 days</b>.<br>Keep receipts.</p>
<!-- hidden comment -->
<h2>Limits</h2><ul><li>Meals: 50</li><li>Hotels: 200</li></ul>
<table><tr><th>Item</th><th>Limit</th></tr><tr><td>Taxi</td><td>40</td></tr></table>
<pre>expense submit --amount 40
  --receipt r.pdf</pre><script>alert(1)</script>
<h1>Travel</h1><p>Book via the portal.</p></body></html>"""


def test_html_headings_blocks_and_metadata() -> None:
    doc = parse_document("finance/expenses.htm", PAGE)
    assert doc.title == "Expenses"
    assert doc.metadata == {"description": "How to claim expenses"}
    assert doc.blocks == [  # the site's <nav> is not the page's text
        Block(("Expenses",), "Claim within 30 days.\nKeep receipts."),
        Block(("Expenses", "Limits"), "- Meals: 50"),
        Block(("Expenses", "Limits"), "- Hotels: 200"),
        Block(("Expenses", "Limits"), "| Item | Limit |\n| Taxi | 40 |", "table"),
        Block(("Expenses", "Limits"), "expense submit --amount 40\n  --receipt r.pdf", "code"),
        Block(("Travel",), "Book via the portal."),
    ]
    assert "alert" not in doc.text and "hidden comment" not in doc.text and "color" not in doc.text


def test_html_title_tag_is_used_without_h1() -> None:
    assert parse_document("a.html", b"<title>Only title</title><p>x</p>").title == "Only title"
