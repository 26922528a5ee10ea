"""Chunking rules, with a whitespace token counter whose arithmetic is easy to check."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from thoth.ingest.chunking import Chunk, chunk_document
from thoth.parsing import Block, ParsedDocument, parse_document

SPECIALS = 2  # like [CLS] and [SEP]


class WordCounter:
    """One token per whitespace-separated word, plus two special tokens."""

    def count(self, text: str) -> int:
        return len(text.split()) + SPECIALS

    def count_many(self, texts: Sequence[str]) -> list[int]:
        return [self.count(text) for text in texts]


COUNTER = WordCounter()


def words(start: int, stop: int) -> str:
    return " ".join(f"w{i}" for i in range(start, stop))


def doc_of(*blocks: Block, title: str = "Guide") -> ParsedDocument:
    return ParsedDocument(path="team/guide.md", title=title, metadata={}, blocks=list(blocks))


def chunk(doc: ParsedDocument, max_tokens: int = 50, overlap: int = 5) -> list[Chunk]:
    return chunk_document(doc, "handbook", COUNTER, max_tokens, overlap)


def assert_fit(chunks: list[Chunk], max_tokens: int) -> None:
    for chunk_ in chunks:
        assert chunk_.token_count == COUNTER.count(chunk_.embed_text) <= max_tokens


def test_small_blocks_of_a_section_are_packed_and_sections_never_mixed() -> None:
    doc = doc_of(
        Block(("A",), "one two"),
        Block(("A",), "three four"),
        Block(("A", "B"), "five"),
        Block(("C",), "six"),
    )
    chunks = chunk(doc)
    assert [(c.heading, c.text) for c in chunks] == [
        ("A", "one two\n\nthree four"),
        ("A > B", "five"),
        ("C", "six"),
    ]
    assert chunks[0].embed_text == "Guide\nA\n\none two\n\nthree four"
    assert [c.ordinal for c in chunks] == [0, 1, 2]
    assert all(c.path == "team/guide.md" and c.title == "Guide" for c in chunks)


def test_embed_text_without_heading_is_title_then_text() -> None:
    [only] = chunk(doc_of(Block((), "hello")))
    assert only.heading == "" and only.embed_text == "Guide\n\nhello"
    assert only.token_count == 2 + SPECIALS


def test_packing_stops_at_the_limit() -> None:
    blocks = [Block(("S",), words(i * 10, i * 10 + 10)) for i in range(10)]  # 100 words
    chunks = chunk(doc_of(*blocks), max_tokens=50)
    assert_fit(chunks, 50)
    assert [c.text.count("\n\n") + 1 for c in chunks] == [4, 4, 2]  # 4 + 2 + 40 = 46 tokens


def test_big_paragraph_is_split_at_sentences_with_overlap() -> None:
    sentences = [f"s{i} " + words(i * 10, i * 10 + 9) + "." for i in range(12)]
    chunks = chunk(doc_of(Block(("S",), " ".join(sentences))), max_tokens=50, overlap=10)
    assert len(chunks) > 2
    assert_fit(chunks, 50)
    for previous, current in itertools.pairwise(chunks):
        last_sentence = previous.text.rsplit(". ", 1)[-1]
        assert current.text.startswith(last_sentence)  # the overlap
    body = " ".join(c.text for c in chunks)
    assert all(sentence in body for sentence in sentences)  # sentences are never cut


def test_big_paragraph_without_sentences_is_split_at_words_with_overlap() -> None:
    chunks = chunk(doc_of(Block((), words(0, 500))), max_tokens=50, overlap=8)
    assert_fit(chunks, 50)
    seen = [word for c in chunks for word in c.text.split()]
    assert set(seen) == set(words(0, 500).split())
    first, second = chunks[0].text.split(), chunks[1].text.split()
    assert second[:8] == first[-8:]


def test_paragraph_boundaries_are_preferred() -> None:
    text = words(0, 30) + "\n\n" + words(30, 60) + "\n\n" + words(60, 90)
    chunks = chunk(doc_of(Block(("S",), text)), max_tokens=50, overlap=0)
    assert [c.text for c in chunks] == [words(0, 30), words(30, 60), words(60, 90)]


def test_code_that_fits_is_never_split() -> None:
    code = "\n".join(f"line_{i} = {i}" for i in range(14))  # 42 words
    doc = doc_of(Block(("S",), words(0, 20)), Block(("S",), code, "code"), Block(("S",), "after"))
    chunks = chunk(doc, max_tokens=50)
    assert sum(code in c.text for c in chunks) == 1
    assert not any(c.text.startswith("line_1 ") for c in chunks)


def test_code_longer_than_the_limit_is_split_at_lines() -> None:
    lines = [f"    call_{i}(a, b)" for i in range(40)]  # 3 words per line, indented
    chunks = chunk(doc_of(Block((), "\n".join(lines), "code")), max_tokens=30)
    assert len(chunks) > 1
    assert_fit(chunks, 30)
    pieces = [c.text.split("\n") for c in chunks]
    assert [line for piece in pieces for line in piece] == lines  # whole lines, no overlap


def test_big_table_is_split_by_rows_repeating_the_header() -> None:
    header = "| Name | Team | Role |"
    rows = [f"| person{i} | team{i} | role{i} |" for i in range(60)]
    chunks = chunk(doc_of(Block(("People",), "\n".join([header, *rows]), "table")), max_tokens=60)
    assert len(chunks) > 3
    assert_fit(chunks, 60)
    assert all(c.text.split("\n")[0] == header for c in chunks)
    assert [row for c in chunks for row in c.text.split("\n")[1:]] == rows


class CharCounter(WordCounter):
    """One token per non-space character: a long word is many tokens."""

    def count(self, text: str) -> int:
        return len("".join(text.split())) + SPECIALS


def test_a_giant_word_is_split_by_characters() -> None:
    blob = "".join(chr(ord("a") + i % 26) for i in range(5000))
    counter = CharCounter()
    chunks = chunk_document(doc_of(Block((), "see: " + blob)), "s", counter, 40, 0)
    assert all(c.token_count == counter.count(c.embed_text) <= 40 for c in chunks)
    assert "".join(c.text for c in chunks) == "see:" + blob


def test_a_huge_heading_is_shortened_in_embed_text_only() -> None:
    path = tuple(words(i * 10, i * 10 + 10) for i in range(10))
    [only] = chunk(doc_of(Block(path, "body text")), max_tokens=50)
    assert only.heading == " > ".join(path)
    assert only.token_count <= 50 and only.embed_text.endswith("body text")
    assert "w99" in only.embed_text  # the deepest heading survives


def test_ids_are_stable_unique_and_depend_on_source_and_path() -> None:
    doc = doc_of(Block(("A",), "same"), Block(("B",), "x " * 60), Block(("A",), "same"))
    first, again = chunk(doc), chunk(doc)
    assert first == again
    ids = [c.chunk_id for c in first]
    assert len(set(ids)) == len(ids)  # the repeated "same" under A gets its own id
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    other_source = chunk_document(doc, "other", COUNTER, 50)
    assert not set(ids) & {c.chunk_id for c in other_source}


def test_an_edit_changes_only_the_ids_of_chunks_it_touches() -> None:
    before = chunk(doc_of(Block(("A",), "alpha"), Block(("B",), "beta")))
    after = chunk(doc_of(Block(("A",), "alpha"), Block(("B",), "beta edited")))
    assert before[0].chunk_id == after[0].chunk_id
    assert before[1].chunk_id != after[1].chunk_id


def test_empty_document_has_no_chunks() -> None:
    assert chunk(parse_document("empty.md", b"")) == []
    assert chunk(doc_of(Block(("A",), "   \n"))) == []


def test_tiny_max_tokens_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        chunk(doc_of(Block((), "x")), max_tokens=4)


def test_parsed_markdown_round_trip() -> None:
    data = b"# Leave\n\n" + b"\n\n".join(words(i * 30, i * 30 + 30).encode() for i in range(10))
    chunks = chunk(parse_document("leave.md", data), max_tokens=100)
    assert_fit(chunks, 100)
    assert {c.heading for c in chunks} == {"Leave"}
    assert all(c.embed_text.startswith("Leave\nLeave\n\n") for c in chunks)


class CountingWordCounter(WordCounter):
    """WordCounter that remembers the longest text it was asked to count."""

    def __init__(self) -> None:
        self.longest = 0

    def count_many(self, texts: Sequence[str]) -> list[int]:
        self.longest = max([self.longest, *map(len, texts)])
        return super().count_many(texts)


def test_a_giant_word_is_split_by_characters_and_never_counted_whole() -> None:
    counter = CountingWordCounter()
    doc = doc_of(Block(("S",), "x" * 50_000))
    chunks = chunk_document(doc, "s", counter, 50, 0, max_chars=1000)
    assert "".join(c.text for c in chunks) == "x" * 50_000
    assert max(len(c.text) for c in chunks) <= 1000
    assert counter.longest <= 1000 + len("Guide\nS\n\n")


def test_chunks_of_few_tokens_are_still_bounded_in_characters() -> None:
    long_words = " ".join(f"{i:04d}" + "y" * 400 for i in range(40))  # 40 tokens, 16 KB
    chunks = chunk_document(doc_of(Block(("S",), long_words)), "s", COUNTER, 200, 0, max_chars=2000)
    assert len(chunks) > 1
    assert all(len(c.text) <= 2000 for c in chunks)
    assert " ".join(c.text for c in chunks) == long_words


def test_a_huge_heading_is_clipped_to_its_deepest_end() -> None:
    heading = "h" * 10_000 + "END"
    [only] = chunk_document(doc_of(Block((heading,), "body")), "s", COUNTER, 50, 0, max_chars=400)
    assert only.heading.endswith("END") and len(only.heading) <= 100


def test_with_pack_below_a_small_chunk_takes_in_the_whole_sections_after_it() -> None:
    doc = doc_of(
        Block(("A",), "one two"),
        Block(("A", "B"), "three"),
        Block(("C",), "four five"),
    )
    chunks = chunk_document(doc, "handbook", COUNTER, 50, 5, pack_below=10)
    assert [(c.heading, c.text) for c in chunks] == [
        ("A", "one two\n\n## B\n\nthree\n\n# C\n\nfour five"),
    ]
    assert chunks[0].embed_text == "Guide\nA\n\n" + chunks[0].text
    assert_fit(chunks, 50)


def test_packing_sections_stops_at_pack_below_and_at_the_budget() -> None:
    doc = doc_of(
        Block(("A",), words(0, 6)),
        Block(("B",), words(6, 12)),  # A has 6 tokens < 8: B joins (6 + 2 + 6 = 14)
        Block(("C",), words(12, 14)),  # A is now 14 tokens, not below 8: C starts a chunk
        Block(("D",), words(14, 40)),  # C (2) is below 8 but D does not fit beside it
    )
    chunks = chunk_document(doc, "handbook", COUNTER, 30, 5, pack_below=8)
    assert [c.heading for c in chunks] == ["A", "C", "D"]
    assert chunks[0].text == f"{words(0, 6)}\n\n# B\n\n{words(6, 12)}"
    assert_fit(chunks, 30)


def test_a_section_split_over_several_chunks_is_never_packed_into_another() -> None:
    doc = doc_of(Block(("A",), "one"), Block(("B",), words(0, 60)))
    chunks = chunk_document(doc, "handbook", COUNTER, 30, 5, pack_below=100)
    assert chunks[0].text == "one"
    assert {c.heading for c in chunks[1:]} == {"B"}
    assert_fit(chunks, 30)
