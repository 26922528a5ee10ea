"""PDFs built in the test: text pages and bookmarks."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader, PdfWriter


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF of Helvetica text, one line per line of each page's text."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(pages))), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        lines = b" T* ".join(b"(%s) Tj" % line.encode("latin-1") for line in text.split("\n"))
        stream = b"BT /F1 12 Tf 14 TL 72 720 Td %s ET" % lines
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def with_outline(pdf: bytes, bookmarks: list[tuple[str, int, int | None]]) -> bytes:
    """Add bookmarks (title, page index, index of the parent bookmark or None)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    added: list[Any] = []
    for title, page, parent in bookmarks:
        above = added[parent] if parent is not None else None
        added.append(writer.add_outline_item(title, page, parent=above))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
