"""context="section": the enclosing heading section of a winning chunk, overlaps cut, bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.snapshots import HashingEncoder, make_snapshot
from thoth.bucket.snapshot import open_snapshot
from thoth.serve.search import InvalidQueryError, SearchEngine, SourceIndex
from thoth.serve.search.sections import (
    SectionRows,
    join_chunks,
    overlap,
    section_rows,
    section_text,
)


def test_section_is_the_run_with_the_same_path_and_heading() -> None:
    paths = ["a.md", "a.md", "a.md", "a.md", "b.md"]
    headings = ["Intro", "Leave", "Leave", "Pay", "Pay"]
    assert section_rows(paths, headings, 2) == SectionRows(1, 3)
    assert section_rows(paths, headings, 1) == SectionRows(1, 3)
    assert section_rows(paths, headings, 3) == SectionRows(3, 4)  # b.md's Pay is another
    assert section_rows(paths, headings, 4) == SectionRows(4, 5)


def test_overlap_repeated_at_the_start_of_the_next_chunk_is_cut() -> None:
    first = "Everyone gets 25 days of paid vacation. Ask your manager before booking."
    second = "Ask your manager before booking. Leave longer than two weeks needs approval."
    assert overlap(first, second) == len("Ask your manager before booking.")
    assert join_chunks([first, second]) == (
        "Everyone gets 25 days of paid vacation. Ask your manager before booking."
        " Leave longer than two weeks needs approval."
    )


def test_chunks_without_overlap_are_joined_as_paragraphs() -> None:
    assert join_chunks(["One paragraph.", "Another one."]) == "One paragraph.\n\nAnother one."
    assert overlap("ends with a.", "a. starts") == 0  # too short to be the chunker's overlap
    assert join_chunks([]) == ""


def test_a_long_section_is_cut_around_the_winning_chunk() -> None:
    texts = [f"paragraph {i} " + "x" * 80 for i in range(10)]
    rows = SectionRows(0, 10)
    whole = section_text(texts, rows, 5, max_chars=10_000)
    assert whole == "\n\n".join(texts)
    cut = section_text(texts, rows, 5, max_chars=300)
    assert texts[5] in cut and len(cut) <= 300
    assert cut == "\n\n".join(texts[4:7])  # neighbours on both sides, nearest first
    alone = section_text(texts, rows, 0, max_chars=50)
    assert alone == texts[0]  # the winning chunk is kept whole even over the bound


LONG_DOCS = {
    "people/leave.md": "# Leave\n\nParental leave is sixteen weeks at full pay."
    "\n\nTell your manager three months before the leave starts."
    "\n\nPart-time return is possible for the first two months.",
    "people/pay.md": "# Pay\n\nSalaries are paid on the 25th of each month."
    "\n\nParental leave pay comes from the same payroll run.",
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> SearchEngine:
    root: Path = tmp_path_factory.mktemp("sections")
    make_snapshot(root / "s", LONG_DOCS)
    return SearchEngine({"handbook": SourceIndex(open_snapshot(root / "s"))}, HashingEncoder())


def test_engine_returns_each_section_once_with_its_text(engine: SearchEngine) -> None:
    plain = engine.search("parental leave weeks", num_results=5)
    assert all(r.section is None for r in plain)
    assert [r.path for r in plain].count("people/leave.md") == 3
    results = engine.search("parental leave weeks", num_results=5, context="section")
    assert [r.path for r in results] == ["people/leave.md", "people/pay.md"]
    top = results[0]
    assert top.text == "Parental leave is sixteen weeks at full pay."
    assert top.section == (
        "Parental leave is sixteen weeks at full pay.\n\n"
        "Tell your manager three months before the leave starts.\n\n"
        "Part-time return is possible for the first two months."
    )


def test_engine_refuses_an_unknown_context(engine: SearchEngine) -> None:
    with pytest.raises(InvalidQueryError, match="context must be one of"):
        engine.search("leave", context="document")  # type: ignore[arg-type]
