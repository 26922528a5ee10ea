"""Small corpora written by the tests themselves, including hostile files."""

from __future__ import annotations

from pathlib import Path

PAGES = {
    "people/time-off.md": (
        "---\ntitle: Time off\ntags: [people]\n---\n# Time off\n\n"
        "Everyone gets 27 days of paid leave per year.\n\n## Sick leave\n\n"
        "Sick days do not count against leave. Tell your manager before 10:00.\n"
    ),
    "engineering/on-call.md": (
        "# On-call\n\nThe rotation lasts one week and hands over on Tuesdays.\n\n"
        "## Paging\n\nA SEV1 page must be acknowledged within 4 minutes.\n\n"
        "```bash\npagerctl ack --incident $ID\n```\n"
    ),
    "engineering/deploys.md": "# Deploys\n\nProduction deploys freeze on Fridays after 15:00.\n",
    "company/values.txt": "Our values\n\nWe write things down. We ship small changes.\n",
    "company/history.html": (
        "<html><body><h1>History</h1><p>Founded in 2014 in a garage in Ghent.</p></body></html>"
    ),
    "finance/expenses.md": "# Expenses\n\nReceipts above 35 euros need a photo in Ledgerly.\n",
}


def many_pages(count: int) -> dict[str, str]:
    """A corpus big enough for many batches, each page with its own fact."""
    return {
        f"team-{i % 5}/page-{i:03d}.md": (
            f"---\ntitle: Page {i}\n---\n# Page {i}\n\n"
            f"Team {i % 5} meets on day {i % 28 + 1} of every month in room {100 + i}.\n\n"
            f"## Budget\n\nThe budget for project {i} is {i * 1000} euros.\n"
        )
        for i in range(count)
    }


def write_corpus(root: Path, pages: dict[str, str] | None = None) -> Path:
    for rel, text in (pages or PAGES).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def write_hostile_files(root: Path) -> dict[str, str]:
    """Files that must each end as a per-file error or a skip, never a failed job.
    Returns path -> expected outcome."""
    files: dict[str, tuple[bytes, str]] = {
        "hostile/binary.md": (bytes(range(256)) * 64, "failed"),
        "hostile/invalid-utf8.md": (b"# Caf\xe9\n\nOpen \xff\xfe daily.\n", "indexed"),
        "hostile/empty.md": (b"", "indexed"),
        "hostile/logo.png": (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "skipped"),
        "hostile/deep.md": (
            "".join(f"{'#' * (i % 6 + 1)} Level {i}\n\ntext {i}\n\n" for i in range(300)).encode(),
            "indexed",
        ),
        "hostile/table.md": (
            (
                "| id | name | value |\n|---|---|---|\n"
                + "".join(f"| {i} | row {i} | {i * 7} |\n" for i in range(10_000))
            ).encode(),
            "indexed",
        ),
    }
    for rel, (data, _) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return {rel: outcome for rel, (_, outcome) in files.items()}
