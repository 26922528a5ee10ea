"""Generate the binary documents of the sample handbook.

Writes two files that hold facts found nowhere else in the handbook, so that tests can
prove PDF and DOCX files are indexed:

- examples/handbook/people/benefits-summary-2026.pdf    (built with fpdf2)
- examples/handbook/legal/vendor-contract-checklist.docx (built with python-docx)

The generated files are committed; this script is only needed to regenerate them. It needs
two extra packages that Thoth itself does not depend on:

    .venv/bin/pip install fpdf2 python-docx
    .venv/bin/python examples/make_documents.py

Output is deterministic: creation dates are fixed, and the DOCX archive is rewritten with
fixed timestamps, so running the script twice produces byte-identical files.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import docx
from docx.shared import Pt
from fpdf import FPDF

HANDBOOK = Path(__file__).resolve().parent / "handbook"
PDF_PATH = HANDBOOK / "people" / "benefits-summary-2026.pdf"
DOCX_PATH = HANDBOOK / "legal" / "vendor-contract-checklist.docx"
FIXED_DATE = datetime(2025, 12, 1, 9, 0, 0, tzinfo=UTC)

# --- PDF: 2026 benefits summary -----------------------------------------------------------

PDF_TITLE = "Larkspur Robotics - Benefits Summary 2026"
PDF_SECTIONS: list[tuple[str, list[str]]] = [
    (
        "About this summary",
        [
            "This summary describes the Larkspur Robotics benefits for the 2026 plan year, "
            "from 1 January to 31 December 2026. It applies to all permanent employees in "
            "every country where Larkspur employs people directly or through an employer of "
            "record. Where local law or a local plan document says something different, the "
            "local document prevails.",
            "The open enrolment window for the 2026 plan year runs from 3 November to "
            "21 November 2025. Changes made in Perch during that window take effect on "
            "1 January 2026. Outside the window, changes are only possible after a life event.",
        ],
    ),
    (
        "Pension matching",
        [
            "In 2026 Larkspur matches your own pension contributions one-for-one up to 5% of "
            "your base salary. On top of the match, Larkspur pays a fixed employer "
            "contribution of 2% of base salary, even if you contribute nothing yourself. "
            "Matching contributions vest immediately.",
        ],
    ),
    (
        "Health plan tiers",
        [
            "Two health plan tiers are available in countries with private health insurance. "
            "Core is free for employees. Plus adds physiotherapy, mental-health cover without "
            "referral and a lower excess; it costs employees EUR 38 per month through payroll.",
        ],
    ),
    (
        "Counselling and wellbeing",
        [
            "Our employee assistance programme is provided by Calmwater. Every employee and "
            "each member of their household can use up to 8 free, confidential counselling "
            "sessions per year, by video or phone, in 11 languages. The Calmwater helpline is "
            "open 24 hours a day. Larkspur never learns who used the service.",
            "A vision allowance of EUR 250 every 24 months covers glasses or contact lenses "
            "for screen work. Claim it in Quill under the Other category, noting "
            "'vision allowance'.",
        ],
    ),
    (
        "Insurance",
        [
            "Life insurance pays a lump sum of three times your annual base salary. "
            "Long-term disability insurance replaces 70% of base salary after 90 days of "
            "continuous absence, until you return to work or reach retirement age.",
        ],
    ),
]
PDF_TABLE = [
    ("Benefit", "2026 value"),
    ("Pension match", "100% up to 5% of base salary"),
    ("Fixed employer pension contribution", "2% of base salary"),
    ("Health plan Plus, employee cost", "EUR 38 per month"),
    ("Calmwater counselling sessions", "8 per person per year"),
    ("Vision allowance", "EUR 250 every 24 months"),
    ("Life insurance", "3x annual base salary"),
]


def make_pdf(path: Path) -> None:
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(PDF_TITLE)
    pdf.set_author("Larkspur Robotics People Operations")
    pdf.set_producer("examples/make_documents.py")
    pdf.set_margins(20, 20, 20)
    pdf.add_page()

    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 10, PDF_TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "I", 10)
    pdf.multi_cell(
        0, 6, "Owner: People Operations. Published 1 December 2025.", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(4)

    for heading, paragraphs in PDF_SECTIONS:
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        pdf.ln(2)

    pdf.set_font("Helvetica", "B", 13)
    pdf.multi_cell(0, 8, "At a glance", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    with pdf.table(col_widths=(60, 40), text_align="LEFT") as table:
        for row in PDF_TABLE:
            cells = table.row()
            for value in row:
                cells.cell(value)

    pdf.output(str(path))


# --- DOCX: vendor contract checklist ------------------------------------------------------

DOCX_INTRO = [
    "Use this checklist before any supplier contract goes to signature in Scribe. Procurement "
    "completes it together with the contract owner, and Legal checks it during review. A "
    "contract cannot be routed for signature while any mandatory item is open.",
    "Suppliers are placed in one of three risk tiers. Tier A covers critical suppliers: robot "
    "components with a single source, and any vendor that can reach Canopy or customer data. "
    "Tier B covers suppliers with access to Internal data only. Tier C covers everything else, "
    "such as office supplies and event venues. Tier A suppliers receive an on-site or remote "
    "audit every 18 months.",
]
DOCX_TERMS = [
    "Payment terms are net 45 days from the invoice date. Shorter terms need CFO approval.",
    "The initial term for a new supplier is at most 36 months. Automatic renewals may run for "
    "no more than 12 months at a time.",
    "Suppliers must carry cyber liability insurance of at least EUR 5 million and professional "
    "indemnity insurance of at least EUR 2 million.",
    "Suppliers that process Confidential or Restricted data must provide an ISO 27001 "
    "certificate or a SOC 2 Type II report that is no older than 12 months.",
    "Suppliers must give 30 days' notice before adding a new sub-processor.",
    "Single-source robot component suppliers must give a last-time-buy notice of at least "
    "12 months before discontinuing a part.",
]
DOCX_TABLE = [
    ("Check", "Owner", "Required for"),
    ("Risk tier assigned and recorded in Scribe", "Procurement", "All tiers"),
    ("Security questionnaire completed", "Security team", "Tier A and B"),
    ("ISO 27001 certificate or SOC 2 Type II report", "Security team", "Tier A"),
    ("Insurance certificates on file", "Finance", "Tier A and B"),
    ("Data Processing Agreement signed", "Legal", "Any personal data"),
    ("Exit plan and data return clause", "Contract owner", "Tier A"),
    ("Sanctions and anti-bribery screening", "Legal", "All tiers"),
]


def _deterministic_zip(raw: bytes) -> bytes:
    """Rewrite a zip archive with fixed timestamps and a stable member order."""
    source = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(name))
    return out.getvalue()


def make_docx(path: Path) -> None:
    document = docx.Document()
    props = document.core_properties
    props.title = "Vendor Contract Checklist"
    props.author = "Larkspur Robotics Legal"
    props.last_modified_by = "Larkspur Robotics Legal"
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1

    style = document.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)

    document.add_heading("Vendor Contract Checklist", level=0)
    document.add_paragraph("Owner: Hannah Vogt (General Counsel). Last reviewed 14 October 2025.")

    document.add_heading("Purpose and risk tiers", level=1)
    for paragraph in DOCX_INTRO:
        document.add_paragraph(paragraph)

    document.add_heading("Mandatory commercial and security terms", level=1)
    for term in DOCX_TERMS:
        document.add_paragraph(term, style="List Bullet")

    document.add_heading("Checklist", level=1)
    table = document.add_table(rows=0, cols=3)
    table.style = "Table Grid"
    for row in DOCX_TABLE:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = value

    document.add_heading("Sign-off", level=2)
    document.add_paragraph(
        "When every applicable check is complete, the contract owner attaches this checklist "
        "to the Scribe request and marks the request ready for signature."
    )

    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(_deterministic_zip(buffer.getvalue()))


def main() -> None:
    make_pdf(PDF_PATH)
    make_docx(DOCX_PATH)
    for path in (PDF_PATH, DOCX_PATH):
        print(f"wrote {path.relative_to(HANDBOOK.parent.parent)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
