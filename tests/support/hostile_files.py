"""Hostile files from the review, made at test time (never committed): each one is under the
10 MB per-file limit and, before the parse budget, could take the worker down alone."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable

MIB = 1024 * 1024


def log_lines(size: int = 9_400_000) -> bytes:
    """A log-style .txt: short lines, no blank line, so one paragraph of ~9.4 MB."""
    line = "2026-11-26T10:{m:02d}:{s:02d}Z INFO request {n} served in {ms} ms by pod-{p}\n"
    parts: list[str] = []
    total = n = 0
    while total < size:
        text = line.format(m=n // 60 % 60, s=n % 60, n=n, ms=n % 997, p=n % 13)
        parts.append(text)
        total += len(text)
        n += 1
    return "".join(parts).encode()[:size]


def log_one_line(size: int = 9_400_000) -> bytes:
    """The same log with its newlines turned into spaces: one 9.4 MB line of short words."""
    return log_lines(size).replace(b"\n", b" ")


def one_word(size: int = 9_000_000) -> bytes:
    """A single 9 MB "word": one [UNK] token for WordPiece, so tokens alone do not bound it."""
    return b"x" * size


def brackets(size: int = 2_000_000) -> bytes:
    """Markdown of 2 MB of `[`: every one opens a link label markdown-it tries to close."""
    return b"[" * size


def pdf_bomb(inflated: int = 16 * MIB) -> bytes:
    """A one-page PDF whose content stream is ~50 KB compressed and `inflated` bytes of text
    drawing operators once decompressed."""
    # A period shorter than zlib's 32 KB window is what makes it compress ~300x.
    block = "".join(f"BT /F1 9 Tf {n * 7} {n * 11} Td (w{n}) Tj ET\n" for n in range(64))
    ops = block * (inflated // len(block) + 1)
    return _pdf(zlib.compress(ops.encode(), 9))


def _pdf(content: bytes) -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
        + content
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def docx_bomb(inflated: int = 50 * MIB) -> bytes:
    """A valid .docx of ~150 KB whose word/document.xml inflates to `inflated` bytes."""
    paragraph = '<w:p><w:r><w:t xml:space="preserve">{}</w:t></w:r></w:p>'
    block = "".join(paragraph.format(f"Paragraph {n} of the policy.") for n in range(32))
    body = block * (inflated // len(block) + 1)
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    return _docx(document.encode())


def _docx(document: bytes) -> bytes:
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/word/document.xml" ContentType="{main}"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="word/document.xml" Type="http://schemas.openxmlformats'
        '.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", rels)
        archive.writestr("word/document.xml", document)
    return out.getvalue()


# path -> (generator, what the failure reason must mention)
HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "hostile/server-lines.txt": (log_lines, "chunks"),
    "hostile/server-one-line.txt": (log_one_line, "chunks"),
    "hostile/one-word.txt": (one_word, "chunks"),
    "hostile/brackets.md": (brackets, "too slow to parse as links"),
    "hostile/bomb.pdf": (pdf_bomb, "content stream"),
    "hostile/bomb.docx": (docx_bomb, "inflates"),
}
