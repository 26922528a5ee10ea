"""The labelled questions of the quality bench and their mechanical validation.

A question has one or more gold passages, each a verbatim excerpt of the raw text of one
file of its corpus (bench/passages.py). A question with gold passages in two or more
files is multi-part: it is answered only when every file, or every passage, is retrieved
(the "all" metrics), and partly when any is (the "any" metrics).

Fields: id, corpus, style (natural: a full question; keyword: search-box terms; vague: the
need, not the topic), kind (where the answer sits in the source: prose, table, alt, link,
code, html, frontmatter), question, gold: [{file, passage}]. The older single-passage
form (`file`, `passage`) still loads as one gold passage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from passages import MAX_WORDS, MIN_WORDS, normalise

STYLES = ("natural", "keyword", "vague")
KINDS = ("prose", "table", "alt", "link", "code", "html", "frontmatter")


class LabelError(SystemExit):
    """Labels that fail validation: the bench measures nothing until they are fixed."""


@dataclass(frozen=True)
class Gold:
    file: str
    passage: str

    @property
    def words(self) -> list[str]:
        return normalise(self.passage)


@dataclass(frozen=True)
class Question:
    id: str
    corpus: str
    question: str
    gold: tuple[Gold, ...]
    style: str = "natural"
    kind: str = "prose"

    @property
    def files(self) -> list[str]:
        """Distinct gold files, in label order."""
        return list(dict.fromkeys(g.file for g in self.gold))

    @property
    def multi_file(self) -> bool:
        return len(self.files) > 1

    def content(self) -> dict[str, object]:
        """Everything that defines the question, for the split's content hash."""
        return {
            "id": self.id,
            "corpus": self.corpus,
            "question": self.question,
            "style": self.style,
            "kind": self.kind,
            "gold": [{"file": g.file, "passage": g.passage} for g in self.gold],
        }


def _question(item: Mapping[str, object]) -> Question:
    raw_gold = item.get("gold") or [{"file": item["file"], "passage": item["passage"]}]
    assert isinstance(raw_gold, list)
    return Question(
        id=str(item["id"]),
        corpus=str(item["corpus"]),
        question=str(item["question"]),
        gold=tuple(Gold(str(g["file"]), str(g["passage"])) for g in raw_gold),
        style=str(item.get("style", "natural")),
        kind=str(item.get("kind", "prose")),
    )


def load_questions(path: Path) -> list[Question]:
    questions = [_question(item) for item in yaml.safe_load(path.read_text())["questions"]]
    ids = [q.id for q in questions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise LabelError(f"quality bench: duplicate question ids: {duplicates}")
    return questions


def label_problems(questions: Sequence[Question], raw: Mapping[str, str], corpus: str) -> list[str]:
    """What is wrong with the labels of `corpus`'s questions against its raw texts
    ({path: text}): passage length, presence in its file, uniqueness in the corpus."""
    texts = {path: f" {' '.join(normalise(text))} " for path, text in raw.items()}
    problems: list[str] = []
    for q in (q for q in questions if q.corpus == corpus):
        if q.style not in STYLES or q.kind not in KINDS:
            problems.append(f"{q.id}: unknown style {q.style!r} or kind {q.kind!r}")
        for gold in q.gold:
            problems += _gold_problems(q.id, gold, texts)
    return problems


def _gold_problems(qid: str, gold: Gold, texts: Mapping[str, str]) -> list[str]:
    """`texts`: each file's normalised words joined by single spaces, padded with one."""
    words = gold.words
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return [f"{qid}: passage has {len(words)} words, want {MIN_WORDS}-{MAX_WORDS}"]
    if gold.file not in texts:
        return [f"{qid}: file {gold.file!r} is not in the corpus"]
    needle = f" {' '.join(words)} "
    problems = []
    if needle not in texts[gold.file]:
        problems.append(f"{qid}: passage not in the raw text of {gold.file}")
    others = [p for p, t in texts.items() if p != gold.file and needle in t]
    if others:
        problems.append(f"{qid}: passage also in {', '.join(others[:3])}")
    return problems
