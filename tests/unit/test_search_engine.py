"""Hybrid search over real snapshots on disk, with the deterministic hashing encoder."""

from __future__ import annotations

from pathlib import Path

import lancedb
import pytest
from lancedb.index import FTS

from tests.support.snapshots import (
    DIMENSIONS,
    SAMPLE_DOCS,
    HashingEncoder,
    make_snapshot,
    real_encoder,
    records,
)
from thoth.bucket.records import chunks_to_arrow, documents_to_arrow
from thoth.bucket.snapshot import (
    CHUNKS_TABLE,
    DOCUMENTS_TABLE,
    LANCEDB_DIR,
    SnapshotManifest,
    open_snapshot,
)
from thoth.serve import tools
from thoth.serve.search import (
    DocumentNotFoundError,
    IndexNotReadyError,
    InvalidQueryError,
    SearchEngine,
    SourceIndex,
    UnknownSourceError,
)
from thoth.serve.search.engine import closest_paths


def load(directory: Path) -> SourceIndex:
    return SourceIndex(open_snapshot(directory))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> SearchEngine:
    root = tmp_path_factory.mktemp("snap")
    make_snapshot(root / "a", SAMPLE_DOCS, source="handbook")
    other = {"guides/laptop-setup.md": "# Laptop setup\n\nInstall the laptop agent first."}
    make_snapshot(root / "b", other, source="guides")
    indexes = {"handbook": load(root / "a"), "guides": load(root / "b")}
    return SearchEngine(indexes, HashingEncoder())


@pytest.mark.parametrize("mode", ["hybrid", "dense", "fulltext"])
def test_finds_the_right_passage(engine: SearchEngine, mode: str) -> None:
    results = engine.search("how many vacation days", mode=mode, num_results=3)  # type: ignore[arg-type]
    assert results[0].path == "people/vacation.md"
    assert results[0].url == "https://handbook.example.com/people/vacation.md"
    assert results[0].title == "Vacation policy"
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)


def test_hybrid_top_score_is_one_when_both_agree(engine: SearchEngine) -> None:
    top = engine.search("paid vacation days a year", num_results=1)[0]
    assert top.score == pytest.approx(1.0)


def test_searches_all_sources_or_one(engine: SearchEngine) -> None:
    everywhere = engine.search("laptop", num_results=10)
    assert {r.source for r in everywhere} == {"handbook", "guides"}
    only = engine.search("laptop", num_results=10, source="guides")
    assert {r.source for r in only} == {"guides"}


def test_prefix_filter_applies_before_ranking(tmp_path: Path) -> None:
    # 40 documents about laptops outrank the one under rare/ for "laptop": a filter applied
    # after truncating the top-k would return nothing from rare/.
    docs = {
        f"common/doc{i:02d}.md": f"# Doc {i}\n\nlaptop laptop laptop policy number {i}"
        for i in range(40)
    }
    docs |= {
        f"rare/r{i}.md": f"# Rare {i}\n\nsomething unrelated about gardens {i}" for i in range(3)
    }
    make_snapshot(tmp_path / "s", docs)
    engine = SearchEngine({"handbook": load(tmp_path / "s")}, HashingEncoder())
    for mode in ("hybrid", "dense"):
        results = engine.search("laptop", num_results=3, path_prefix="rare/", mode=mode)  # type: ignore[arg-type]
        assert len(results) == 3
        assert all(r.path.startswith("rare/") for r in results)
    assert {r.path for r in engine.search("laptop", num_results=50)} >= {
        f"common/doc{i:02d}.md" for i in range(40)
    }
    # full text only returns matching passages, but never ones outside the prefix
    results = engine.search("gardens laptop", num_results=5, path_prefix="rare", mode="fulltext")
    assert results and all(r.path.startswith("rare/") for r in results)


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query(engine: SearchEngine, query: str) -> None:
    with pytest.raises(InvalidQueryError, match="empty"):
        engine.search(query)


def test_long_query_is_truncated(engine: SearchEngine) -> None:
    assert engine.search("vacation " * 500, num_results=1)[0].path == "people/vacation.md"


@pytest.mark.parametrize("n", [0, -1, 51])
def test_num_results_range(engine: SearchEngine, n: int) -> None:
    with pytest.raises(InvalidQueryError, match="num_results"):
        engine.search("vacation", num_results=n)


def test_more_results_than_chunks(engine: SearchEngine) -> None:
    assert len(engine.search("policy", num_results=50, mode="dense")) == 11


def test_unknown_source_names_the_known(engine: SearchEngine) -> None:
    with pytest.raises(UnknownSourceError, match="guides, handbook"):
        engine.search("vacation", source="wiki")
    with pytest.raises(UnknownSourceError) as huge:
        engine.search("vacation", source="w" * 100_000)
    assert len(str(huge.value)) < 200 and "100,000 characters" in str(huge.value)


def test_prefix_matching_nothing_names_folders(engine: SearchEngine) -> None:
    with pytest.raises(InvalidQueryError, match=r"engineering/.*people/"):
        engine.search("vacation", path_prefix="hr/", source="handbook")


def test_bad_mode(engine: SearchEngine) -> None:
    with pytest.raises(InvalidQueryError, match="mode"):
        engine.search("vacation", mode="magic")  # type: ignore[arg-type]


def test_quotes_in_prefix_and_query_are_safe(engine: SearchEngine) -> None:
    with pytest.raises(InvalidQueryError):
        engine.search("x", path_prefix="it's' OR '1'='1")
    assert engine.search('manager\'s "leave" (AND) OR -x:y*', num_results=1)


def test_a_quoted_phrase_is_searched_by_its_words(
    engine: SearchEngine, caplog: pytest.LogCaptureFixture
) -> None:
    # assistants quote exact terms; LanceDB took the quotes for a phrase query and failed
    results = engine.search('"vacation days"', mode="fulltext", num_results=3)
    assert results and results[0].path == "people/vacation.md"
    assert "full-text search failed" not in caplog.text


def test_no_index_loaded() -> None:
    with pytest.raises(IndexNotReadyError):
        SearchEngine({}, HashingEncoder()).search("vacation")


def test_without_encoder_hybrid_falls_back_to_fulltext(engine: SearchEngine) -> None:
    bare = SearchEngine(engine.indexes, None)
    assert bare.search("vacation")[0].path == "people/vacation.md"
    with pytest.raises(IndexNotReadyError, match="embedding model"):
        bare.search("vacation", mode="dense")
    # The tool says so, rather than pass keyword results off as the hybrid's.
    assert tools.search_handbook(bare, "vacation").note == tools.KEYWORD_ONLY_NOTE
    assert tools.search_handbook(bare, "vacation", mode="fulltext").note is None
    assert tools.search_handbook(engine, "vacation").note is None


def test_get_document_and_suggestions(engine: SearchEngine) -> None:
    assert engine.get_document("people/vacation.md").title == "Vacation policy"
    assert engine.get_document("/guides/laptop-setup.md").source == "guides"
    with pytest.raises(DocumentNotFoundError) as info:
        engine.get_document("people/vacations.md")
    assert info.value.suggestions[0] == "people/vacation.md"
    assert "people/vacation.md" in str(info.value)


def test_get_document_pages_a_long_text(engine: SearchEngine) -> None:
    whole = engine.get_document("people/vacation.md").text
    first = tools.get_document(engine, "people/vacation.md", max_chars=40)
    assert len(first.text) <= 40 and first.total_chars == len(whole)
    assert first.next_offset is not None and whole.startswith(first.text)
    pages, offset = [first.text], first.next_offset
    while offset is not None:
        page = tools.get_document(engine, "people/vacation.md", offset=offset, max_chars=40)
        pages.append(page.text)
        offset = page.next_offset
    assert "".join(pages) == whole
    short = tools.get_document(engine, "people/vacation.md")
    assert short.text == whole and short.next_offset is None


def test_a_page_ends_after_a_line_break_when_one_is_near() -> None:
    text = "first line\nsecond line\nthird"
    assert tools.text_page(text, 0, 15) == ("first line\n", 11)  # not "first line\nseco"
    assert tools.text_page(text, 0, 8) == ("first li", 8)  # no break in the page's last half
    assert tools.text_page(text, 11, 100) == ("second line\nthird", None)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"offset": -1}, "offset must be 0-"), ({"offset": 10**6}, "offset must be 0-"),
     ({"max_chars": 0}, "max_chars must be 1-1,000,000"),
     ({"max_chars": 1_000_001}, "max_chars must be 1-1,000,000")],
)  # fmt: skip
def test_get_document_refuses_a_page_outside_the_text(
    engine: SearchEngine, arguments: dict[str, int], message: str
) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        tools.get_document(engine, "people/vacation.md", **arguments)


def test_closest_paths_by_file_name() -> None:
    paths = ["a/b/c/vacation-policy.md", "x/y.md"]
    assert closest_paths("vacation-policy.md", paths) == ["a/b/c/vacation-policy.md"]


def test_topics(engine: SearchEngine) -> None:
    topics = {t.path: t.documents for t in engine.topics()}
    assert topics == {"engineering/": 2, "people/": 2, "security/": 1, "guides/": 1}
    assert engine.topics(source="handbook", prefix="peo")[0].path == "people/"


def test_a_folder_lists_its_own_documents_with_titles(engine: SearchEngine) -> None:
    listed, total = engine.folder_documents(prefix="people/")
    assert [(d.path, d.title) for d in listed] == [
        ("people/remote-work.md", "Remote work"),
        ("people/vacation.md", "Vacation policy"),
    ]
    assert total == 2 and engine.folder_documents(prefix="people")[0] == listed
    assert engine.folder_documents(prefix="people/", limit=1) == (listed[:1], 2)
    in_part, _ = engine.folder_documents(prefix="people/va")
    assert [d.path for d in in_part] == ["people/vacation.md"]
    # The top level holds only folders here: nothing in a subfolder is listed as its own.
    assert engine.folder_documents() == ([], 0)
    output = tools.list_topics(engine, prefix="engineering/")
    assert output.files_total == 2 and output.files[0].path == "engineering/deploys.md"


def test_document_pages_run_across_sources_in_order(engine: SearchEngine) -> None:
    every, total = engine.document_page(0, 100)
    assert total == 6 and [(d.source, d.path) for d in every] == [
        ("guides", "guides/laptop-setup.md"),
        *(("handbook", path) for path in sorted(SAMPLE_DOCS)),
    ]
    pages = [engine.document_page(start, 4)[0] for start in (0, 4, 8)]
    assert [len(page) for page in pages] == [4, 2, 0] and pages[0] + pages[1] == every
    assert every[0].title == "Laptop setup"
    assert SearchEngine({}, HashingEncoder()).document_page(0, 10) == ([], 0)


def test_resource_pages_and_cursors(engine: SearchEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "RESOURCES_PAGE", 5)
    first, cursor = tools.resource_page(engine, None)
    assert (len(first), cursor) == (5, "5")
    rest, cursor = tools.resource_page(engine, "5")
    assert (len(rest), cursor) == (1, None)
    for bad in ("-1", "x", "1e3", "٣", "9" * 13):
        with pytest.raises(InvalidQueryError, match="invalid cursor"):
            tools.resource_page(engine, bad)
    assert tools.document_uri("handbook", "a b/c#d?.md") == "thoth://handbook/a%20b/c%23d%3F.md"


def test_a_folder_named_without_its_slash_is_that_folder_in_every_field(tmp_path: Path) -> None:
    docs = {
        "people/leave.md": "# Leave\n\nTake leave.",
        "people/benefits/health.md": "# Health\n\nInsurance.",
        "people-group/team.md": "# Team\n\nThe people group.",
    }
    make_snapshot(tmp_path / "s", docs, source="handbook")
    engine = SearchEngine({"handbook": load(tmp_path / "s")}, HashingEncoder())
    bare, slashed = (
        tools.list_topics(engine, prefix="people"),
        tools.list_topics(engine, prefix="people/"),
    )
    assert bare == slashed
    assert [t.path for t in bare.topics] == ["people/benefits/"]
    assert bare.documents == 2 and bare.files_total == 1
    # a prefix that is no folder's whole name still matches by its start
    assert tools.list_topics(engine, prefix="peo").documents == 3
    # search reads it as list_topics does: "people" is not also "people-group/"
    for mode in ("hybrid", "dense", "fulltext"):
        for prefix in ("people", "people/"):
            found = engine.search("people team leave", num_results=5, path_prefix=prefix, mode=mode)  # type: ignore[arg-type]
            paths = {r.path for r in found}
            assert "people/leave.md" in paths and all(p.startswith("people/") for p in paths)
        found = engine.search("people team", num_results=5, path_prefix="peo", mode=mode)  # type: ignore[arg-type]
        assert "people-group/team.md" in {r.path for r in found}


@pytest.mark.slow
def test_real_model_matches_meaning_not_words(tmp_path: Path) -> None:
    encoder = real_encoder()
    if encoder is None:
        pytest.skip("thoth.embedding is not available")
    make_snapshot(tmp_path / "s", SAMPLE_DOCS, encoder=encoder)
    engine = SearchEngine({"handbook": load(tmp_path / "s")}, encoder)
    for mode in ("dense", "hybrid"):
        top = engine.search("how long can I be away on holiday?", mode=mode, num_results=1)  # type: ignore[arg-type]
        assert top[0].path == "people/vacation.md"
        top = engine.search("my notebook computer was stolen", mode=mode, num_results=1)  # type: ignore[arg-type]
        assert top[0].path == "security/laptops.md"


def test_rows_are_sorted_by_path_even_if_the_table_is_not(tmp_path: Path) -> None:
    import pyarrow as pa

    from thoth.serve.search.source_index import _sorted_by_path

    make_snapshot(tmp_path / "s", SAMPLE_DOCS, source="handbook")
    table = open_snapshot(tmp_path / "s").chunks_arrow()
    assert _sorted_by_path(table)  # build_snapshot writes them in order: no re-sort at load
    reversed_rows = table.take(pa.array(list(range(table.num_rows))[::-1]))
    assert not _sorted_by_path(reversed_rows)
    index = load(tmp_path / "s")
    assert index.paths == sorted(index.paths)


@pytest.mark.parametrize("call", ["document", "prefix", "topics"])
def test_huge_paths_are_refused_briefly(engine: SearchEngine, call: str) -> None:
    """A 3 MB path once took 5 s of suggestion matching and was echoed whole into the error
    and the log (issue 12, item 7)."""
    huge = "a/" * 1_500_000
    with pytest.raises(InvalidQueryError) as refused:
        if call == "document":
            engine.get_document(huge)
        elif call == "prefix":
            engine.search("vacation", path_prefix=huge)
        else:
            engine.topics(prefix=huge)
    assert len(str(refused.value)) < 200


def test_full_text_matches_title_and_heading_words(engine: SearchEngine) -> None:
    # "policy" is only in the title "Vacation policy", never in a passage's text
    results = engine.search("policy", mode="fulltext", num_results=5)
    assert results and {r.path for r in results} == {"people/vacation.md"}


def test_snapshot_indexed_on_text_alone_still_searches(tmp_path: Path) -> None:
    """A snapshot written before `search_text` existed: full text over `text` only."""
    documents, chunks = records("handbook", SAMPLE_DOCS, HashingEncoder())
    db = lancedb.connect(str(tmp_path / "old" / LANCEDB_DIR))
    table = db.create_table(CHUNKS_TABLE, data=chunks_to_arrow(chunks, DIMENSIONS))
    table.create_index("text", config=FTS())
    db.create_table(DOCUMENTS_TABLE, data=documents_to_arrow(documents))
    manifest = SnapshotManifest(
        source="handbook",
        version="old",
        model="test-hashing",
        dimensions=DIMENSIONS,
        documents=len(documents),
        chunks=len(chunks),
    )
    (tmp_path / "old" / "manifest.json").write_text(manifest.model_dump_json())
    engine = SearchEngine({"handbook": load(tmp_path / "old")}, HashingEncoder())
    results = engine.search("vacation days", mode="fulltext", num_results=2)
    assert results[0].path == "people/vacation.md"
    assert engine.search("policy", mode="fulltext") == []  # titles are not in that index
    assert engine.search("vacation days")[0].path == "people/vacation.md"


def test_full_text_rows_found_by_path_and_ordinal(engine: SearchEngine) -> None:
    """A full-text hit's row is its path's first row plus its ordinal: the same rows a
    lookup by chunk id gives. Equal paths are one string object (a document's rows share it)."""
    index = engine.indexes["handbook"]
    assert index._first_row is not None
    hits = index.fulltext("vacation days policy", 10, None)
    by_id = {chunk_id: row for row, chunk_id in enumerate(index.chunk_ids)}
    lance = index.snapshot.chunks_table().search("vacation days policy", query_type="fts")
    expected = [
        by_id[c] for c in lance.select(["chunk_id"]).limit(10).to_arrow()["chunk_id"].to_pylist()
    ]
    assert [h.row for h in hits] == expected and len(expected) > 1
    vacation = [i for i, p in enumerate(index.paths) if p == "people/vacation.md"]
    assert len(vacation) > 1 and len({id(index.paths[i]) for i in vacation}) == 1


def test_ordinals_that_skip_still_map_full_text_hits(tmp_path: Path) -> None:
    """Ordinals that do not count each document's rows (0, 2, 4, ...) fall back to chunk ids."""
    import dataclasses

    from thoth.bucket.snapshot import build_snapshot

    documents, chunks = records("handbook", SAMPLE_DOCS, HashingEncoder())
    skipping = [dataclasses.replace(c, ordinal=2 * c.ordinal) for c in chunks]
    build_snapshot(
        tmp_path / "s",
        source="handbook",
        version="v1",
        documents=documents,
        chunks=skipping,
        model="test-hashing",
        dimensions=DIMENSIONS,
    )
    index = load(tmp_path / "s")
    assert index._first_row is None
    hits = index.fulltext("vacation days", 10, None)
    expected = {c.chunk_id: c.path for c in skipping}
    assert hits and all(expected[index.chunk_ids[h.row]] == index.paths[h.row] for h in hits)
    engine = SearchEngine({"handbook": index}, HashingEncoder())
    assert engine.search("vacation days", mode="fulltext")[0].path == "people/vacation.md"


@pytest.mark.parametrize(
    ("paths", "ordinals", "expected"),
    [
        (["a", "a", "b"], [0, 1, 0], True),
        (["a", "a", "b"], [1, 0, 0], False),  # ordinals out of order within one path
        (["b", "a"], [0, 0], False),
        ([], [], True),
        (["a"], [3], True),
        (["a", "ab", "b"], [5, 0, 0], True),  # a prefix sorts first
        (["z", "é"], [0, 0], True),  # byte order is code point order
    ],
)
def test_the_sort_check_orders_by_path_then_ordinal(
    paths: list[str], ordinals: list[int], expected: bool
) -> None:
    import pyarrow as pa

    from thoth.serve.search.source_index import _sorted_by_path

    table = pa.table(
        {"path": pa.array(paths, pa.string()), "ordinal": pa.array(ordinals, pa.int32())}
    )
    assert _sorted_by_path(table) is expected
    assert expected == (
        list(zip(paths, ordinals, strict=True)) == sorted(zip(paths, ordinals, strict=True))
    )
