"""The outside benchmark through a running MCP server: what a reviewer measures.

    make up
    .venv/bin/thoth ingest gitlab --from-dir ../shared/corpora/gitlab-handbook
    PYTHONPATH=src .venv/bin/python bench/outside_mcp.py DATASETS_DIR [--url URL] [--source gitlab]

bench/outside.py ranks in process, over a snapshot the bench builds itself (torch vectors).
This asks the stack instead: each question goes to the `search_handbook` tool over Streamable
HTTP (num_results 10, the given source; with --rerank, rerank true), as an MCP client would
send it after an ingestion by the worker (ONNX vectors, the worker's chunking and snapshot).
Each returned passage is read as it shows (title, heading path, text) and scored with the
same metric (quality_metric.question_ranks), so the two reports can be set side by side.
With --context section the tool also returns each passage's heading section and the result is
read as that section: larger units than a chunk, so its figures answer what the option buys
an assistant, at how many more words, and are not comparable with the chunk rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from freshness import door_headers, mcp
from outside import load_outside
from passages import normalise, shown_text, text_grams
from quality import summaries, table
from quality_labels import Question
from quality_metric import METRICS, Ranks, question_ranks

DEFAULT_URL = "http://127.0.0.1:8080/mcp"


def _shown(hit: dict[str, Any]) -> str:
    """A result as an assistant reads it: its section when the tool filled one, else its text."""
    return str(hit.get("section") or hit["text"])


async def ask(
    client: Any, q: Question, source: str, rerank: bool, context: str
) -> tuple[Ranks, float, int]:
    """The question's ranks in the tool's top 10, the call's wall-clock seconds, and the words
    its first 5 results hold."""
    started = time.perf_counter()
    arguments = {
        "query": q.question,
        "num_results": 10,
        "source": source,
        "rerank": rerank,
        "context": context,
    }
    result = await client.call_tool("search_handbook", arguments)
    seconds = time.perf_counter() - started
    if result.is_error:
        raise SystemExit(f"search_handbook failed for {q.id}: {result.content}")
    hits = (result.structured_content or {}).get("results", [])
    paths = [str(h["path"]) for h in hits]
    shown = [shown_text(h["title"], h["heading"], _shown(h)) for h in hits]
    grams = [text_grams(normalise(text)) for text in shown]
    words = sum(len(text.split()) for text in shown[:5])
    return question_ranks(q, paths, grams), seconds, words


async def run(
    url: str, questions: list[Question], source: str, rerank: bool, context: str
) -> dict[str, Any]:
    headers = await door_headers(url)
    ranks: dict[str, Ranks] = {}
    seconds: list[float] = []
    words: list[int] = []
    async with mcp(url, headers) as client:
        for q in questions:
            ranks[q.id], took, top5_words = await ask(client, q, source, rerank, context)
            seconds.append(took)
            words.append(top5_words)
    return {"ranks": ranks, "seconds": sorted(seconds), "words": sorted(words)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", type=Path, help="folder with the benchmark's *.jsonl")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the MCP endpoint ({DEFAULT_URL})")
    parser.add_argument("--source", default="gitlab", help="the source holding the corpus")
    parser.add_argument("--rerank", action="store_true", help="search with rerank: true")
    parser.add_argument(
        "--context",
        choices=("chunk", "section"),
        default="chunk",
        help="the tool's context argument; section scores each result's section",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/outside-mcp"))
    args = parser.parse_args()
    questions = [q for q in load_outside(args.datasets) if q.gold]
    got = asyncio.run(run(args.url, questions, args.source, args.rerank, args.context))
    method = "mcp search_handbook" + (" rerank" if args.rerank else "")
    method += " context=section" if args.context == "section" else ""
    groups: dict[str, list[Question]] = {"all": questions}
    for q in questions:
        groups.setdefault(f"type:{q.style}", []).append(q)
    summary = summaries({method: got["ranks"]}, groups)
    took = got["seconds"]
    p50, p95 = took[len(took) // 2], took[min(len(took) - 1, int(len(took) * 0.95))]
    words = got["words"]
    mean_words = sum(words) / len(words)
    lines = [
        f"### Outside benchmark through MCP ({args.url}, source {args.source!r}), "
        f"{len(questions)} questions",
        "",
        f"`search_handbook` over Streamable HTTP against the running stack; the same metric as "
        f"bench/outside.py. Wall clock per call: p50 {1000 * p50:.0f} ms, p95 {1000 * p95:.0f} ms. "
        f"Words in the first 5 results as shown (title, heading path, "
        f"{'section' if args.context == 'section' else 'text'}): mean {mean_words:.0f}, "
        f"median {words[len(words) // 2]}, most {words[-1]}.",
        "",
        *table(summary, [method], groups),
        *table(summary, [method], groups, METRICS[6:]),
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    suffix = ("-rerank" if args.rerank else "") + ("-section" if args.context == "section" else "")
    out = args.out.with_name(args.out.name + suffix)
    out.with_suffix(".md").write_text(report)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
