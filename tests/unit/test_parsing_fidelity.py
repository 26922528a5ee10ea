"""Text the parsers used to lose: DOCX content outside direct runs, HTML alt text, captions,
legacy charsets and nested tables, UTF-32 text. Documents are built in the test."""

from __future__ import annotations

import codecs
import io
import zipfile

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import parse_xml

from thoth.parsing import ParsedDocument, parse_document

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
WP = 'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"'
MC = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
WPS = 'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"'
A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'


def _saved(document: docx.document.Document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _texts(doc: ParsedDocument) -> list[str]:
    return [block.text for block in doc.blocks]


def _text_box(text: str) -> str:
    """A DrawingML text box with its VML fallback, as Word writes it (same text twice)."""
    content = f"<w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:txbxContent>"
    return (
        f'<w:r {W} {MC} {WPS} {WP} {A}><mc:AlternateContent><mc:Choice Requires="wps">'
        '<w:drawing><wp:anchor><wp:docPr id="9" name="Text Box 1"/><a:graphic>'
        '<a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
        f"<wps:wsp><wps:txbx>{content}</wps:txbx></wps:wsp></a:graphicData></a:graphic>"
        "</wp:anchor></w:drawing></mc:Choice>"
        f"<mc:Fallback><w:pict>{content}</w:pict></mc:Fallback></mc:AlternateContent></w:r>"
    )


def test_docx_keeps_text_wrapped_in_controls_revisions_fields_and_tags() -> None:
    document = docx.Document()
    body = document.element.body
    body.insert(
        0,
        parse_xml(
            f"<w:sdt {W}><w:sdtContent><w:p><w:r><w:t>Owner: CSO</w:t></w:r></w:p>"
            "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>In control</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
            "</w:sdtContent></w:sdt>"
        ),
    )
    wrapped = {
        "Review date: ": "<w:sdt><w:sdtContent><w:r><w:t>1 March</w:t></w:r></w:sdtContent>"
        "</w:sdt>",
        "Approved by ": "<w:ins w:id='1' w:author='a'><w:r><w:t>the council</w:t></w:r></w:ins>"
        "<w:del w:id='2' w:author='a'><w:r><w:delText>OLD TEXT</w:delText></w:r></w:del>",
        "See ": "<w:fldSimple w:instr=' REF x '><w:r><w:t>Badge rules</w:t></w:r></w:fldSimple>",
        "Office: ": "<w:smartTag w:uri='u' w:element='City'><w:r><w:t>Berlin</w:t></w:r>"
        "</w:smartTag>",
        "Custom: ": "<w:customXml w:element='x'><w:r><w:t>wrapped</w:t></w:r></w:customXml>",
    }
    for before, xml in wrapped.items():
        paragraph = document.add_paragraph(before)
        paragraph._p.append(parse_xml(f"<w:wrap {W}>{xml}</w:wrap>")[0])
    doc = parse_document("a.docx", _saved(document))
    assert _texts(doc) == [
        "Owner: CSO",
        "| In control |",
        "Review date: 1 March",
        "Approved by the council",
        "See Badge rules",
        "Office: Berlin",
        "Custom: wrapped",
    ]


def test_docx_skips_a_table_of_contents_placeholder_prompts_and_ruby_readings() -> None:
    document = docx.Document()
    toc = (
        f"<w:sdt {W}><w:sdtPr><w:docPartObj><w:docPartGallery w:val='Table of Contents'/>"
        "</w:docPartObj></w:sdtPr><w:sdtContent><w:p><w:r><w:t>Leave policy\t3</w:t></w:r>"
        "</w:p></w:sdtContent></w:sdt>"
    )
    document.element.body.insert(0, parse_xml(toc))
    empty = document.add_paragraph("Name: ")
    empty._p.append(
        parse_xml(
            f"<w:sdt {W}><w:sdtPr><w:showingPlcHdr/></w:sdtPr><w:sdtContent><w:r>"
            "<w:t>Click or tap here to enter text.</w:t></w:r></w:sdtContent></w:sdt>"
        )
    )
    ruby = document.add_paragraph()
    ruby._p.append(
        parse_xml(
            f"<w:r {W}><w:ruby><w:rt><w:r><w:t>かんじ</w:t></w:r></w:rt>"
            "<w:rubyBase><w:r><w:t>漢字</w:t></w:r></w:rubyBase></w:ruby></w:r>"
        )
    )
    document.add_heading("Leave policy", level=1)
    document.add_paragraph("25 days.")
    doc = parse_document("a.docx", _saved(document))
    assert [(b.heading_path, b.text) for b in doc.blocks] == [
        ((), "Name:"),
        ((), "漢字"),
        (("Leave policy",), "25 days."),
    ]


def test_docx_text_box_is_a_paragraph_after_its_anchor_once() -> None:
    document = docx.Document()
    paragraph = document.add_paragraph("Badges expire yearly.")
    paragraph._p.append(parse_xml(_text_box("Callout: report lost badges")))
    document.add_paragraph("Next.")
    doc = parse_document("a.docx", _saved(document))
    assert _texts(doc) == ["Badges expire yearly.", "Callout: report lost badges", "Next."]


def test_docx_nested_table_rows_follow_their_row_once() -> None:
    document = docx.Document()
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Escalation"
    inner = table.cell(0, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "Alice"
    inner.cell(0, 1).text = "555-0100"
    table.cell(1, 0).text = "Last"
    doc = parse_document("a.docx", _saved(document))
    assert _texts(doc) == ["| Escalation |  |\n| Alice | 555-0100 |\n| Last |  |"]


def test_docx_image_alt_text_is_text() -> None:
    document = docx.Document()
    paragraph = document.add_paragraph("Badge: ")
    paragraph._p.append(
        parse_xml(
            f'<w:r {W} {WP}><w:drawing><wp:inline><wp:docPr id="1" name="Picture 1" '
            'descr="Photo of the badge"/></wp:inline></w:drawing></w:r>'
        )
    )
    [text] = _texts(parse_document("a.docx", _saved(document)))
    assert " ".join(text.split()) == "Badge: Photo of the badge"


def test_docx_footnotes_close_the_document_under_their_heading() -> None:
    document = docx.Document()
    document.add_paragraph("Badges expire yearly.")
    source = zipfile.ZipFile(io.BytesIO(_saved(document)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/word/footnotes.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>',
                )
            if item.filename == "word/_rels/document.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdFn" Target="footnotes.xml" Type="http://schemas.'
                    b'openxmlformats.org/officeDocument/2006/relationships/footnotes"/>'
                    b"</Relationships>",
                )
            target.writestr(item, data)
        target.writestr(
            "word/footnotes.xml",
            f'<w:footnotes {W}><w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/>'
            '</w:r></w:p></w:footnote><w:footnote w:id="1"><w:p><w:r><w:t>Contractors: 90 days.'
            "</w:t></w:r></w:p></w:footnote></w:footnotes>",
        )
    doc = parse_document("security/badges.docx", out.getvalue())
    assert doc.title == "Badges"  # "Footnotes" is not the document's first heading
    assert [(b.heading_path, b.text) for b in doc.blocks] == [
        ((), "Badges expire yearly."),
        (("Footnotes",), "Contractors: 90 days."),
    ]


def test_docx_styles_based_on_headings_and_outline_levels_are_headings() -> None:
    document = docx.Document()
    style = document.styles.add_style("Policy Heading", WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Heading 1"]
    document.add_paragraph("Leave policy", style="Policy Heading")
    document.add_paragraph("25 days.")
    paragraph = document.add_paragraph("Sick leave")
    paragraph._p.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {W} w:val="1"/>'))
    document.add_paragraph("Report before 10:00.")
    body = document.add_paragraph("Body text", style="Heading 2")
    body._p.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {W} w:val="9"/>'))
    doc = parse_document("a.docx", _saved(document))
    assert doc.title == "Leave policy"
    assert [(b.heading_path, b.text) for b in doc.blocks] == [
        (("Leave policy",), "25 days."),
        (("Leave policy", "Sick leave"), "Report before 10:00."),
        (("Leave policy", "Sick leave"), "Body text"),
    ]


def test_html_image_alt_text_is_text_in_paragraphs_links_headings_and_cells() -> None:
    page = (
        b"<p>Click <a href='/x'><img src='v.png' alt='the VPN client'></a>to start.</p>"
        b"<img src='deco.png' alt=''><h2><img src='w.png' alt='Warning'></h2><p>Never.</p>"
        b"<table><tr><td><img alt='Logo'></td></tr></table>"
    )
    doc = parse_document("a.html", page)
    assert [(b.heading_path, b.text) for b in doc.blocks] == [
        ((), "Click the VPN client to start."),
        (("Warning",), "Never."),
        (("Warning",), "| Logo |"),
    ]


def test_markdown_inline_and_block_html_images_keep_their_alt_text() -> None:
    doc = parse_document(
        "a.md", b'Press <img src="k.png" alt="the red button"> now.\n\n<img alt="Map">\n'
    )
    assert _texts(doc) == ["Press the red button now.", "Map"]
    quoted = b"A <IMG ALT='one &amp; two' src=y> b <img alt=bare> c <img src=n.png> d\n"
    assert _texts(parse_document("a.md", quoted)) == ["A one & two b bare c  d"]


def test_html_table_caption_is_a_line_before_the_rows() -> None:
    page = b"<table><caption>Per-diem rates</caption><tr><th>Region</th></tr><tr><td>DE</td></tr>"
    blocks = parse_document("a.html", page).blocks
    assert [(b.kind, b.text) for b in blocks] == [
        ("text", "Per-diem rates"),
        ("table", "| Region |\n| DE |"),
    ]


def test_html_declared_legacy_charset_decides_when_the_bytes_are_not_utf8() -> None:
    body = "<h1>Café policy</h1><p>Naïve résumé – 50 € per day.</p>"
    cp1252 = f'<html><head><meta charset="windows-1252"></head><body>{body}</body></html>'
    doc = parse_document("a.html", cp1252.encode("cp1252"))
    assert (doc.title, _texts(doc)) == ("Café policy", ["Naïve résumé – 50 € per day."])
    sjis = '<meta http-equiv="Content-Type" content="text/html; charset=shift_jis"><p>経費規程</p>'
    assert _texts(parse_document("a.html", sjis.encode("shift_jis"))) == ["経費規程"]
    # valid UTF-8 stays UTF-8 whatever a stale <meta> says
    stale = '<meta charset="iso-8859-1"><p>Grüße</p>'.encode()
    assert _texts(parse_document("a.html", stale)) == ["Grüße"]


@pytest.mark.parametrize("meta", ["", '<meta charset="utf-8">'])
def test_html_in_utf8_with_one_stray_byte_loses_only_that_byte(meta: str) -> None:
    # no charset is guessed: a guess read such pages as Latin or Cyrillic mojibake
    page = f"{meta}<p>中文测试 🎉 x</p>".encode().replace(b" x", b" \x92")
    assert _texts(parse_document("a.html", page)) == ["中文测试 🎉 \ufffd"]


def test_html_br_inside_pre_is_a_newline() -> None:
    blocks = parse_document("a.html", b"<pre>line one<br>line two</pre>").blocks
    assert [(b.kind, b.text) for b in blocks] == [("code", "line one\nline two")]


def test_html_nested_table_rows_appear_once_after_their_row() -> None:
    page = (
        b"<table><tr><td>Finance</td><td><table><caption>Desk</caption>"
        b"<tr><td>Inner A</td><td>Inner B</td></tr></table></td></tr>"
        b"<tr><td>Last</td><td>row</td></tr></table>"
    )
    assert _texts(parse_document("a.html", page)) == [
        "| Finance |  |\n| Desk |\n| Inner A | Inner B |\n| Last | row |"
    ]


def test_utf32_text_with_a_bom_is_decoded() -> None:
    for data in (
        "Grüße aus Köln".encode("utf-32"),
        codecs.BOM_UTF32_BE + "Grüße".encode("utf-32-be"),
    ):
        assert parse_document("a.txt", data).blocks[0].text in ("Grüße aus Köln", "Grüße")


# --- HTML as site generators write it (CHUNKS_VERSION 5) -----------------------------------


def _html(body: str, head: str = "<title>Page - Site</title>") -> ParsedDocument:
    return parse_document(
        "page.html", f"<html><head>{head}</head><body>{body}</body></html>".encode()
    )


def test_html_site_chrome_outside_and_inside_the_content_is_dropped() -> None:
    doc = _html(
        '<header><a href="/">Acme Handbook</a></header><nav><a>Home</a> <a>People</a></nav>'
        "<aside>Table of contents</aside><main><h1>Leave</h1><p>Ask your manager.</p>"
        '<nav class="pagination">Previous Next</nav><footer>Edit this page</footer></main>'
        '<div role="contentinfo">Copyright Acme</div>'
    )
    assert _texts(doc) == ["Ask your manager."] and doc.title == "Leave"
    one_article = _html('<div class="sidebar">Menu</div><article><p>Kept.</p></article>')
    assert _texts(one_article) == ["Kept."]
    two_articles = _html("<div>Intro</div><article><p>One</p></article><article>Two</article>")
    assert _texts(two_articles) == ["Intro", "One", "Two"]
    plain = _html('<div role="search">Search</div><p>All of the body.</p>')
    assert _texts(plain) == ["All of the body."]


def test_html_hidden_text_is_dropped_but_an_inactive_tab_stays() -> None:
    doc = _html(
        '<p>Shown.<span style="display: none">seo words</span><span aria-hidden="true">icon</span>'
        "</p><div hidden><h4>Cookie consent</h4><p>We use cookies</p></div>"
        '<div style="VISIBILITY:hidden">ghost</div><dialog><p>Closed dialog</p></dialog>'
        "<dialog open><p>Open dialog</p></dialog>"
        '<div role="tabpanel" hidden><p>France: mileage</p></div>'
        '<div role="tabpanel" aria-hidden="true"><p>Spain: per diem</p></div>'
        '<div role="tabpanel" style="display:none"><p>Italy: rail</p></div>'
        '<p><span class="katex"><math><mi>n</mi><annotation>n \\geq 14</annotation></math>'
        "</span></p>"
    )
    tabs = ["France: mileage", "Spain: per diem", "Italy: rail"]
    assert _texts(doc) == ["Shown.", "Open dialog", *tabs, "n"]
    assert all(block.heading_path == () for block in doc.blocks)  # no "Cookie consent" section


def test_html_heading_permalinks_are_not_part_of_headings_or_titles() -> None:
    doc = _html(
        '<h1>On-call<a class="headerlink" href="#on-call">\u00b6</a></h1><p>a</p>'
        '<h2>Paging <a class="hash-link" href="#paging">#</a></h2><p>b</p>'
        "<h2>Limits <svg><title>link</title></svg> \u00a7</h2><p>c</p><h2>Learn C#</h2><p>d</p>"
    )
    assert doc.title == "On-call"
    assert [block.heading_path[-1] for block in doc.blocks] == [
        "On-call",
        "Paging",
        "Limits",
        "Learn C#",
    ]


def test_html_line_numbered_code_is_a_code_block_without_its_numbers() -> None:
    pygments = (
        '<table class="highlighttable"><tr><td class="linenos"><div class="linenodiv">'
        '<pre>1\n2</pre></div></td><td class="code"><div class="highlight"><pre>'
        "<span>pd</span> trigger --service payments\npd ack</pre></div></td></tr></table>"
    )
    chroma = (
        '<div class="highlight"><div class="chroma"><table class="lntable"><tr><td class="lntd">'
        '<pre class="chroma"><code><span class="lnt">1\n</span></code></pre></td>'
        '<td class="lntd"><pre class="chroma"><code>kubectl get pods\n</code></pre></td>'
        "</tr></table></div></div>"
    )
    inline = (
        '<pre><span class="linenos">1</span>$ make up\n<span class="ln">2</span>$ make test</pre>'
    )
    doc = _html(pygments + chroma + inline)
    assert [(block.kind, block.text) for block in doc.blocks] == [
        ("code", "pd trigger --service payments\npd ack"),
        ("code", "kubectl get pods"),
        ("code", "$ make up\n$ make test"),
    ]


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("a.txt", "Use a pass\u00adword man\u00adager for \u200bauthen\u2060tication.\ufeff"),
        (
            "a.md",
            "# Pass\u00adwords\n\nUse a pass\u00adword man\u00adager for \u200bauthentication.",
        ),
        (
            "a.html",
            "<h1>Pass\u00adwords</h1><p>Use a pass\u00adword man\u00adager for authentication.</p>",
        ),
    ],
)
def test_soft_hyphens_and_zero_width_spaces_do_not_split_words(path: str, data: str) -> None:
    doc = parse_document(path, data.encode())
    assert "Use a password manager for authentication." in doc.blocks[-1].text
    assert "\u00ad" not in doc.title + "".join(h for b in doc.blocks for h in b.heading_path)


def test_zero_width_joiners_stay() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert (
        parse_document("a.txt", f"Team {family} day".encode())
        .blocks[0]
        .text.endswith(f"{family} day")
    )
