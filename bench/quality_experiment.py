"""What the ranking experiments (quality_prf, quality_coverage, quality_mmr, quality_rerank)
share: the questions they run on, an index per corpus, and how their report is written.

Each experiment tries a grid of settings on the dev split and reports the engine beside
them; on the test split and on the outside questions it reports only the setting chosen on
dev, so that held-out questions are never used to choose.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from quality_labels import Question, load_questions
from quality_metric import Ranks, paired_table
from quality_split import load_split, split_of
from quality_thoth import (
    CORPORA,
    MAX_TOKENS,
    MODEL,
    BuiltIndex,
    Ranking,
    build_index,
    load_corpus,
    retrieve,
    top_ranks,
)

from thoth.embedding import load_embedder
from thoth.serve.search.fusion import weighted_minmax_fusion

ENGINE = "engine"
DEEP = 50  # each ranker's depth, as SearchEngine.search fuses them
Fused = list[tuple[int, float]]
# A setting's reordering of the engine's fused candidates: (setting name, question, fused).
Reorder = Callable[[str, Question, Fused], Ranking]


@dataclass(frozen=True)
class Experiment:
    slug: str  # names the report: bench/results/quality-SLUG-SPLIT.md
    args: argparse.Namespace
    questions: list[Question]

    @property
    def held_out(self) -> bool:
        """Test split or outside questions: only the dev choice is reported."""
        return bool(self.args.outside) or self.args.split == "test"

    def settings(self, names: list[str], chosen: str) -> list[str]:
        """The settings to run: all of them on dev, only `chosen` on held-out questions."""
        if not self.held_out:
            return names
        if chosen not in names:
            sys.exit(f"quality_{self.slug}: held-out questions need a setting chosen on dev")
        return [chosen]

    def indexes(self) -> Iterator[tuple[BuiltIndex, list[Question]]]:
        """Each corpus the questions ask about, indexed as the engine indexes it."""
        embedder = load_embedder(MODEL)
        for corpus in CORPORA:
            asked = [q for q in self.questions if q.corpus == corpus]
            if asked:
                tokens = MAX_TOKENS or embedder.max_tokens
                yield build_index(load_corpus(corpus), embedder, tokens), asked

    def report(
        self, title: str, by_method: dict[str, list[Ranks]], chosen: str, detail: str = ""
    ) -> None:
        """Print the paired table against the first method and write it to bench/results;
        `detail` follows the count of questions."""
        where = (
            "outside" if self.args.outside else f"{self.args.split} split of {self.args.questions}"
        )
        base = next(iter(by_method))
        lines = [f"### {title}, {where}", "", f"{len(self.questions)} questions{detail}.", ""]
        lines += paired_table(by_method, base, "method", chosen)
        text = "\n".join(lines) + "\n"
        print(text)
        name = "outside" if self.args.outside else self.args.split
        (self.args.out or Path(f"bench/results/quality-{self.slug}-{name}.md")).write_text(text)

    def run_reorders(
        self, title: str, names: list[str], reorder_for: Callable[[BuiltIndex], Reorder]
    ) -> None:
        """Each question's engine ranking (0.5 / 0.5 min-max of the two rankers, DEEP deep)
        beside each setting's reordering of the same candidates, then the report.
        `reorder_for` is called once per corpus index, for what a setting precomputes."""
        names = self.settings(names, self.args.chosen)
        by_method: dict[str, list[Ranks]] = {ENGINE: [], **{name: [] for name in names}}
        for built, asked in self.indexes():
            reorder = reorder_for(built)
            for q in asked:
                got = retrieve(built, q.question)
                fused = weighted_minmax_fusion([got.dense[:DEEP], got.fulltext[:DEEP]], (0.5, 0.5))
                by_method[ENGINE].append(top_ranks(built, q, [r for r, _ in fused]))
                for name in names:
                    by_method[name].append(top_ranks(built, q, reorder(name, q, fused)))
        self.report(title, by_method, self.args.chosen)


def experiment(description: str, slug: str, *, with_chosen: bool = True) -> Experiment:
    """Parse the experiment's command line and pick its questions."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--outside", type=Path, help="bench/outside.py's questions instead")
    parser.add_argument("--questions", type=Path, default=Path("bench/quality_questions.yaml"))
    if with_chosen:
        parser.add_argument(
            "--chosen", default="", help="the dev choice, for --split test/--outside"
        )
    parser.add_argument("--out", type=Path, help=f"default: bench/results/quality-{slug}-SPLIT.md")
    args = parser.parse_args()
    if args.outside:
        from outside import load_outside

        return Experiment(slug, args, [q for q in load_outside(args.outside) if q.gold])
    questions = load_questions(args.questions)
    split = split_of(questions, load_split())
    return Experiment(slug, args, [q for q in questions if split[q.id] == args.split])
