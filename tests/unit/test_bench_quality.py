"""The quality bench's rules on hand-made examples: label validation, the frozen split, the
passage rule and metrics, the baseline chunker, containment categories, fusion variants."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import baseline_chunker as chunker  # noqa: E402
import containment  # noqa: E402
import passages  # noqa: E402
import quality_labels as labels  # noqa: E402
import quality_metric as metric  # noqa: E402
import quality_split as split  # noqa: E402
from baselines import rrf  # noqa: E402

RAW = {
    "travel.md": "# Travel\n\nBook every flight through [Roost](https://roost.example) at least "
    "fourteen days before you fly, and keep the booking reference.\n",
    "expenses.md": "| Item | Limit |\n|---|---|\n| Hotel night in Rotterdam or Amsterdam "
    "or any other Dutch city | 180 euro |\n",
}


def gold(file: str, passage: str) -> labels.Gold:
    return labels.Gold(file, passage)


def question(qid: str, *golds: labels.Gold, corpus: str = "c") -> labels.Question:
    return labels.Question(qid, corpus, "how?", tuple(golds))


# --- label validation ---------------------------------------------------------------------


def test_validator_accepts_a_raw_excerpt_with_markup() -> None:
    q = question(
        "ok",
        gold(
            "travel.md",
            "Book every flight through [Roost](https://roost.example) at least fourteen"
            " days before",
        ),
        gold("expenses.md", "| Hotel night in Rotterdam or Amsterdam or any other Dutch city |"),
    )
    assert labels.label_problems([q], RAW, "c") == []
    assert q.multi_file and q.files == ["travel.md", "expenses.md"]


def test_validator_rejects_missing_duplicated_and_short_passages() -> None:
    raw = {**RAW, "copy.md": "Book every flight through Roost at least fourteen days before"}
    bad = [
        question(
            "absent",
            gold("travel.md", "Book every train through Roost at least fourteen days before"),
        ),
        question(
            "twice",
            gold("travel.md", "Book every flight through Roost at least fourteen days before"),
        ),
        question("short", gold("travel.md", "Book every flight")),
        question(
            "nofile",
            gold("nope.md", "Book every flight through Roost at least fourteen days before"),
        ),
    ]
    problems = labels.label_problems(bad, raw, "c")
    assert [p.split(":")[0] for p in problems] == ["absent", "twice", "short", "nofile"]
    assert "also in copy.md" in problems[1]


def test_every_label_of_the_sample_handbook_is_valid() -> None:
    questions = labels.load_questions(BENCH / "quality_questions.yaml")
    raw = passages.raw_corpus(BENCH.parent / "examples" / "handbook")
    assert labels.label_problems(questions, raw, "sample") == []


@pytest.mark.parametrize("corpus", ["gitlab", "sourcegraph"])
def test_every_label_of_the_real_corpora_is_valid(corpus: str) -> None:
    root = Path(f"/work/shared/corpora/{corpus}-handbook")
    if not root.is_dir():
        pytest.skip(f"{root} is not on this machine")
    questions = labels.load_questions(BENCH / "quality_questions.yaml")
    assert labels.label_problems(questions, passages.raw_corpus(root), corpus) == []


def test_question_set_size_and_shape() -> None:
    questions = labels.load_questions(BENCH / "quality_questions.yaml")
    by_corpus = {
        c: sum(q.corpus == c for q in questions) for c in ("gitlab", "sourcegraph", "sample")
    }
    assert len(questions) >= 372 and min(by_corpus.values()) >= 40
    assert sum(q.multi_file for q in questions) >= 30
    assert {q.kind for q in questions} >= {"table", "alt", "link", "code"}


# --- frozen split -------------------------------------------------------------------------


def test_frozen_split_holds() -> None:
    questions = labels.load_questions(BENCH / "quality_questions.yaml")
    assert split.check(questions, split.load_split()) == []


def test_changing_a_test_question_or_the_split_file_is_caught() -> None:
    questions = labels.load_questions(BENCH / "quality_questions.yaml")
    frozen = split.load_split()
    victim = frozen["test_ids"][0]
    edited = [
        dataclasses.replace(q, question=q.question + "?") if q.id == victim else q
        for q in questions
    ]
    assert any("changed" in p for p in split.check(edited, frozen))
    moved = json.loads(json.dumps(frozen))
    moved["test_ids"].remove(victim)
    moved["dev_ids"].append(victim)
    assert split.check(questions, moved)  # not the rule, and the hash differs
    assert any("gone" in p for p in split.check([q for q in questions if q.id != victim], frozen))


def test_split_rule_is_stable_stratified_and_keeps_tuned_questions_in_dev() -> None:
    qs = [question(f"{c}-q{i}", gold("f", "x"), corpus=c) for c in "ab" for i in range(40)]
    qs.append(question("gl-07", gold("f", "x"), corpus="a"))
    first, again = split.assign(qs), split.assign(list(reversed(qs)))
    assert first == again
    assert first["gl-07"] == "dev"
    for c in "ab":
        assert sum(first[q.id] == "test" for q in qs if q.corpus == c and q.id != "gl-07") == 20


# --- passage rule and metrics -------------------------------------------------------------


def test_normalise_keeps_link_and_alt_text_and_drops_markup() -> None:
    text = "**Claim** it in [Quill](https://q.example/x), ok? ![Org chart](a.svg) <b>now</b>"
    assert passages.normalise(text) == ["claim", "it", "in", "quill", "ok", "org", "chart", "now"]
    assert passages.normalise("| Tier | 99.9% |") == ["tier", "99", "9"]


def test_passage_rule_is_half_of_the_trigrams() -> None:
    words = passages.normalise("one two three four five six")  # 4 trigrams
    half = passages.trigrams(passages.normalise("one two three four xx"))  # 2 of them
    less = passages.trigrams(passages.normalise("one two three xx"))  # 1 of them
    assert passages.trigram_share(words, half) == 0.5 and passages.contains(words, half)
    assert not passages.contains(words, less)
    shuffled = passages.trigrams(passages.normalise("six five four three two one"))
    assert not passages.contains(words, shuffled)


def _grams(text: str) -> set[passages.Trigram]:
    return passages.trigrams(passages.normalise(text))


def test_a_passage_of_two_words_is_found_in_a_text_that_holds_them_in_a_row() -> None:
    row = passages.normalise("| CLO    | `#legal`     |")
    table = passages.text_grams(passages.normalise("| CPO | #cpo |\n| CLO | #legal |"))
    assert passages.contains(row, table)
    apart = passages.text_grams(passages.normalise("| CLO | #cto |\n| CPO | #legal |"))
    assert not passages.contains(row, apart)


def test_ranks_single_and_multi_part() -> None:
    a = gold("a.md", "alpha beta gamma delta epsilon")
    b = gold("b.md", "one two three four five")
    returned = [
        ("b.md", "unrelated words here"),
        ("a.md", "x alpha beta gamma delta epsilon y"),
        ("c.md", "nothing"),
        ("b.md", "one two three four five"),
    ]
    paths = [p for p, _ in returned]
    grams = [_grams(t) for _, t in returned]
    single = metric.question_ranks(question("s", a), paths, grams)
    assert single == metric.Ranks(2, 2, 2, 2, (2,), (2,))
    multi = metric.question_ranks(question("m", a, b), paths, grams)
    assert multi == metric.Ranks(
        passage_all=4, passage_any=2, file_all=2, file_any=1, passages=(2, 4), files=(2, 1)
    )
    missing = metric.question_ranks(question("x", a, gold("z.md", "q r s t u")), paths, grams)
    assert missing.passage_all is None and missing.passage_any == 2


def test_ranks_beyond_depth_do_not_count() -> None:
    a = gold("a.md", "alpha beta gamma delta")
    paths = ["n.md"] * 10 + ["a.md"]
    grams = [set()] * 10 + [_grams("alpha beta gamma delta")]
    assert metric.question_ranks(question("d", a), paths, grams).passage_all is None


def test_recall_and_mrr() -> None:
    ranks = [1, 3, 6, None]
    assert metric.recall_at(ranks, 5) == pytest.approx(2 / 4)
    assert metric.recall_at(ranks, 10) == pytest.approx(3 / 4)
    assert metric.mrr(ranks) == pytest.approx((1 + 1 / 3 + 1 / 6) / 4)
    summary = metric.summarise([metric.Ranks(1, 1, 1, 1), metric.Ranks(None, 2, 6, 1)])
    assert summary["passage R@5"] == 0.5 and summary["passage R@5 any"] == 1.0
    assert summary["file R@5"] == 0.5 and summary["file MRR@10"] == pytest.approx(
        (1 + 1 / 6) / 2, abs=1e-4
    )


def test_passage_share_counts_each_gold_passage() -> None:
    both = metric.Ranks(4, 2, 4, 2, (2, 4))  # two passages, both in the top 5
    half = metric.Ranks(None, 3, None, 3, (3, None))  # one of two found
    late = metric.Ranks(7, 7, 7, 7, (7,))  # found, but below 5
    summary = metric.summarise([both, half, late])
    assert summary["passage share R@5"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
    assert summary["passage R@5"] == pytest.approx(1 / 3, abs=1e-4)


def test_file_share_counts_each_gold_file() -> None:
    two = question("q", gold("a.md", "alpha beta gamma"), gold("b.md", "delta epsilon zeta"))
    paths = ["a.md", "n.md", "n.md", "n.md", "n.md", "b.md"]  # b.md only at rank 6
    ranks = metric.question_ranks(two, paths, [set()] * len(paths))
    assert ranks.files == (1, 6)
    summary = metric.summarise([ranks])
    assert summary["file share R@5"] == 0.5
    assert summary["file R@5"] == 0.0 and summary["file R@5 any"] == 1.0


# --- baseline chunker ---------------------------------------------------------------------

DOC = """---
title: "Travel policy"
description: How to travel
---

Intro line.

## Booking

Book early.

### Flights

Economy under six hours.

```sh
# not a heading
echo hi
```

## Hotels

""" + "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(12))


def test_chunker_prefixes_heading_paths_and_ignores_headings_in_code() -> None:
    chunks = chunker.chunk_markdown("travel.md", DOC)
    headings = [c.heading for c in chunks]
    assert headings[0] == "Travel policy" and "title:" in chunks[0].body
    assert "Travel policy > Booking > Flights" in headings
    flights = next(c for c in chunks if c.heading.endswith("Flights"))
    assert "# not a heading\necho hi\n```" in flights.body
    assert flights.text.startswith("Travel policy > Booking > Flights\n\nEconomy")
    assert all(c.heading == "Travel policy > Hotels" for c in chunks[-3:])


def test_chunker_packs_to_the_target_size_deterministically() -> None:
    chunks = chunker.chunk_markdown("travel.md", DOC)
    hotels = [c for c in chunks if c.heading.endswith("Hotels")]
    assert len(hotels) > 1 and all(len(c.body) <= chunker.TARGET_CHARS for c in chunks)
    assert chunker.chunk_markdown("travel.md", DOC) == chunks
    long_line = "word " * 500
    pieces = chunker.chunk_markdown("x.md", long_line)
    assert len(pieces) > 1 and all(len(c.body) <= chunker.TARGET_CHARS for c in pieces)


# --- containment --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("passage", "category"),
    [
        ("title: Travel policy", "frontmatter"),
        ("echo deploy now", "code"),
        ("## Booking a hotel room", "heading"),
        ("| Hotel | 180 euro |", "table"),
        ("![Org chart of the company](org.svg)", "alt"),
        ("<summary>Safety first</summary>", "html"),
        ("see [the booking tool](https://roost.example)", "link"),
        ("run `lr sast` first", "inline-code"),
        ("Plain words only", "other"),
    ],
)
def test_categorise_misses(passage: str, category: str) -> None:
    raw = (
        "---\ntitle: Travel policy\n---\n\n```sh\necho deploy now\n```\n\n"
        "## Booking a hotel room\n\n"
        "| Hotel | 180 euro |\n\n"
        "![Org chart of the company](org.svg)\n\n<summary>Safety first</summary>\n\n"
        "see [the booking tool](https://roost.example)\n\nrun `lr sast` first\n\nPlain words only\n"
    )
    assert containment.categorise(raw, passage) == category


def test_containment_counts_each_gold_once() -> None:
    g = gold("expenses.md", "| Hotel night in Rotterdam or Amsterdam or any other Dutch city |")
    questions = [question("a", g), question("b", g)]
    chunk_grams = {"expenses.md": [_grams("Hotel night in Rotterdam: 180 euro")]}
    n, misses = containment.containment(questions, RAW, chunk_grams)
    assert n == 1 and [(m.question, m.category) for m in misses] == [("a", "table")]
    found = {"expenses.md": [_grams("hotel night in rotterdam or amsterdam or any other")]}
    assert containment.containment(questions, RAW, found) == (1, [])


# --- fusion -------------------------------------------------------------------------------


def test_baseline_rrf() -> None:
    assert rrf([[1, 2, 3], [3, 4, 1]])[:2] == [1, 3]
    assert rrf([[5], [6]]) == [5, 6]  # ties keep first-seen order


def test_report_table_marks_methods_not_run() -> None:
    import quality

    qs = [question("a", gold("x.md", "p")), question("b", gold("y.md", "p"))]
    results = {
        "one": {"a": metric.Ranks(1, 1, 1, 1), "b": metric.Ranks(None, None, 2, 2)},
        "two": {"a": metric.Ranks(2, 2, 1, 1)},  # not run for b
    }
    groups = {"all": qs, "only-a": qs[:1]}
    summary = quality.summaries(results, groups)
    assert "all" not in summary["two"] and "only-a" in summary["two"]
    lines = quality.table(summary, ["one", "two"], groups, ["passage R@5"])
    assert lines[2:6] == [
        "| all (2) | one | **0.500** |",
        "| all (2) | two | n/a |",
        "| only-a (1) | one | **1.000** |",
        "| only-a (1) | two | **1.000** |",
    ]


# --- ranking variants (bench/quality_variants.py) -------------------------------------------


def test_file_cap_keeps_at_most_cap_chunks_of_a_file_up_front() -> None:
    import quality_variants as variants

    paths = ["a.md", "a.md", "a.md", "b.md", "c.md"]
    assert variants.file_cap([0, 1, 2, 3, 4], paths, cap=2, within=3) == [0, 1, 3, 2, 4]
    assert variants.file_decay([(0, 1.0), (1, 0.9), (3, 0.6)], paths, 0.5) == [0, 3, 1]


def test_gated_second_file_takes_the_last_place_only_on_a_near_tie() -> None:
    import quality_variants as variants

    paths = ["a.md", "a.md", "a.md", "b.md"]
    near = [(0, 1.0), (1, 0.9), (2, 0.5), (3, 0.48)]
    far = [(0, 1.0), (1, 0.9), (2, 0.5), (3, 0.3)]
    assert variants.gated_second_file(near, paths, 0.9, within=3) == [0, 1, 3, 2]
    assert variants.gated_second_file(far, paths, 0.9, within=3) == [0, 1, 2, 3]
    mixed = [(0, 1.0), (3, 0.9), (1, 0.5), (2, 0.48)]
    assert variants.gated_second_file(mixed, paths, 0.9, within=3) == [0, 3, 1, 2]


def test_mmr_places_a_near_duplicate_below_a_different_candidate() -> None:
    import numpy as np
    import quality_mmr as mmr

    fused = [(10, 1.0), (11, 0.9), (12, 0.8), (13, 0.1)]
    # 10 and 11 are near duplicates, 12 points elsewhere; 13 is outside the pool of three
    vectors = np.asarray([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]], dtype=np.float32)
    assert mmr.diversified(fused, vectors, lam=0.5) == [10, 12, 11, 13]
    assert mmr.diversified(fused, vectors, lam=1.0) == [10, 11, 12, 13]


def test_distribution_fusion_gives_a_missing_chunk_the_lowest_score_of_its_ranker() -> None:
    import quality_variants as variants

    dense = [(1, 0.9), (2, 0.5), (3, 0.1)]
    fulltext = [(3, 12.0), (4, 2.0)]
    ranked = variants.distribution_fusion(dense, fulltext, alpha=0.5, how="z")
    # z-scores: dense 1.22, 0, -1.22; full text 1, -1; a missing chunk takes the list's lowest
    assert ranked == [1, 3, 2, 4]


def test_a_chunk_is_read_with_the_title_and_heading_path_a_result_shows() -> None:
    heading_line = passages.normalise("A PQL can be further broken down into two types, usage")
    shown = passages.shown_text(
        "Product Principles",
        "PQLs > A PQL can be further broken down into two types, usage and hand-raise",
        "- Usage: a user who ...",
    )
    assert passages.contains(heading_line, passages.text_grams(passages.normalise(shown)))
    body_only = passages.text_grams(passages.normalise("- Usage: a user who ..."))
    assert not passages.contains(heading_line, body_only)
    assert passages.shown_text("", "", "text") == "text"
    assert passages.shown_text("T", "", "text") == "T\n\ntext"


def test_paired_difference_and_its_interval() -> None:
    same = metric.paired_difference([1, 0, 1, 1], [1, 0, 1, 1])
    assert same == (0.0, 0.0, 0.0)
    better = [1.0] * 40 + [0.0] * 60
    worse = [0.0] * 100
    mean, low, high = metric.paired_difference(better, worse)
    assert mean == pytest.approx(0.4)
    assert 0.25 < low < 0.4 < high < 0.55
    # one question of 100 either way: the interval holds 0
    mean, low, high = metric.paired_difference([1.0] + [0.0] * 99, [0.0] * 100)
    assert low <= 0.0 < high


def test_question_parts_split_at_clauses_and_conjunctions() -> None:
    from question_parts import question_parts

    assert question_parts("How do I report a violation and is there an anonymous hotline?") == [
        "How do I report a violation",
        "is there an anonymous hotline",
    ]
    assert question_parts("How many weeks before an overseas trip should I book?") == []
    assert question_parts("salt and pepper") == []
