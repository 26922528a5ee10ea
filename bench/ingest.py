"""Ingestion benchmark through the local stack (`make up` first).

For one corpus: a first ingest (wall time, files/s, chunks/s, the share of batch time spent
embedding), the same chunks encoded by sentence-transformers alone in this process, then a
re-ingest of the unchanged corpus and one with a single file changed.

    .venv/bin/python bench/ingest.py --corpus sample|sourcegraph|synthetic [--pages N]

Writes bench/results/ingest-<corpus>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from thoth_devstack.services import STATE_DIR, stack_settings
from thoth_devstack.stack import status

from bench.common import CACHE, REPO, RESULTS, machine, markdown_table
from thoth.embedding import load_embedder, resolve_model
from thoth.ingest.chunking import chunk_document
from thoth.ingest.jobs import JobStatus
from thoth.ingest.pipeline.context import Context
from thoth.ingest.pipeline.start import start_job
from thoth.ingest.sources.models import SourceConfig
from thoth.ingest.sources.registry import save_source
from thoth.ingest.sources.sync import upload_directory
from thoth.parsing import ParseError, UnsupportedFileType, parse_document

CORPORA = {
    "sample": REPO / "examples" / "handbook",
    "sourcegraph": REPO.parent / "shared" / "corpora" / "sourcegraph-handbook",
}


def synthetic_corpus(pages: int) -> Path:
    """Pages recombined from the sample handbook's sentences (seeded), ~10 sections each."""
    root = CACHE / f"synthetic-{pages}"
    if root.is_dir():
        return root
    sentences = [
        s.strip() + "."
        for page in sorted(CORPORA["sample"].rglob("*.md"))
        for s in page.read_text().replace("\n", " ").split(". ")
        if 40 < len(s) < 300 and "|" not in s and "`" not in s
    ]
    rng = random.Random(7)
    for i in range(pages):
        body = [f"---\ntitle: Synthetic page {i}\n---\n# Synthetic page {i}\n"]
        for section in range(10):
            body.append(f"## Section {section}\n\n" + " ".join(rng.sample(sentences, 4)) + "\n")
        path = root / f"area-{i % 40:02d}" / f"page-{i:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(body))
    return root


def run_job(ctx: Context, source: str, directory: Path) -> dict[str, Any]:
    upload_directory(ctx.store, source, directory)
    started = time.perf_counter()
    job = start_job(ctx, source)
    while True:
        progress = ctx.jobs.progress(job.job_id)
        if progress.job.status.finished:
            break
        time.sleep(1.0)  # each poll costs the stack CPU; 1 s is plenty on a 15-minute run
    wall = time.perf_counter() - started
    if progress.job.status != JobStatus.succeeded:
        raise SystemExit(f"job {job.job_id} failed: {progress.job.error}")
    results = ctx.jobs.batch_results(job.job_id)
    batch_seconds = sum(r.seconds for r in results)
    embed_seconds = sum(r.embed_seconds for r in results)
    counts = progress.counts
    return {
        "job_id": job.job_id,
        "wall_seconds": round(wall, 2),
        "files_indexed": counts.added + counts.changed,
        "chunks_embedded": counts.chunks_embedded,
        "chunks_total": counts.chunks_total,
        "batches": len(results),
        "batch_seconds": round(batch_seconds, 2),
        "embed_seconds": round(embed_seconds, 2),
        "embed_share_of_batch_time": round(embed_seconds / batch_seconds, 3) if results else 0,
        "files_per_second": round((counts.added + counts.changed) / wall, 2),
        "chunks_per_second": round(counts.chunks_embedded / wall, 2),
    }


def encode_alone(ctx: Context, directory: Path, source: str) -> dict[str, Any]:
    """The same chunks, made by the same code, encoded by sentence-transformers directly."""
    from sentence_transformers import SentenceTransformer

    embedder = load_embedder(ctx.settings.embedding_model, ctx.settings.embedding_batch_size)
    max_tokens = ctx.settings.chunk_max_tokens or embedder.max_tokens
    texts = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        try:
            doc = parse_document(rel, path.read_bytes())
        except (UnsupportedFileType, ParseError):
            continue
        chunks = chunk_document(
            doc, source, embedder, max_tokens, ctx.settings.chunk_overlap_tokens
        )
        texts += [c.embed_text for c in chunks]
    model = SentenceTransformer(resolve_model(ctx.settings.embedding_model), device="cpu")
    model.encode(texts[:64], batch_size=ctx.settings.embedding_batch_size)  # warm up
    started = time.perf_counter()
    model.encode(texts, batch_size=ctx.settings.embedding_batch_size)
    seconds = time.perf_counter() - started
    return {
        "chunks": len(texts),
        "seconds": round(seconds, 2),
        "chunks_per_second": round(len(texts) / seconds, 2),
    }


def change_one_file(directory: Path, workdir: Path) -> Path:
    copy = workdir / "changed"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(directory, copy)
    target = sorted(copy.rglob("*.md"))[0]
    target.write_text(target.read_text() + "\n\n## Benchmark note\n\nThis line was added.\n")
    return copy


def report(corpus: str, result: dict[str, Any]) -> str:
    first, alone = result["first"], result["encode_alone"]
    rows = [
        ["first ingest", first["wall_seconds"], first["chunks_embedded"],
         first["files_per_second"], first["chunks_per_second"]],
        ["re-ingest, unchanged", result["unchanged"]["wall_seconds"],
         result["unchanged"]["chunks_embedded"], "", ""],
        ["re-ingest, one file changed", result["one_changed"]["wall_seconds"],
         result["one_changed"]["chunks_embedded"], "", ""],
        ["sentence-transformers alone", alone["seconds"], alone["chunks"], "",
         alone["chunks_per_second"]],
    ]  # fmt: skip
    table = markdown_table(["run", "seconds", "chunks embedded", "files/s", "chunks/s"], rows)
    return (
        f"### Ingest: {corpus} ({first['files_indexed']} files, {first['chunks_total']} chunks)\n\n"
        f"{table}\n\nEnd-to-end / encoding alone: **{result['ratio']:.2f}x**; embedding is "
        f"{first['embed_share_of_batch_time']:.0%} of batch time "
        f"({first['batches']} batches).\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=[*CORPORA, "synthetic"], default="sample")
    parser.add_argument(
        "--pages", type=int, default=6600, help="synthetic corpus size (6,600: ~51k chunks)"
    )
    args = parser.parse_args()
    if not all(row.healthy for row in status(STATE_DIR)):
        raise SystemExit("the local stack is not running: `make up` first")
    directory = synthetic_corpus(args.pages) if args.corpus == "synthetic" else CORPORA[args.corpus]
    if not directory.is_dir():
        raise SystemExit(f"corpus folder {directory} is missing")
    ctx = Context.from_settings(stack_settings(STATE_DIR))
    source = f"bench-{args.corpus}-{int(time.time())}"
    save_source(ctx.store, SourceConfig(name=source, kind="upload"))
    result: dict[str, Any] = {"corpus": args.corpus, "machine": machine()}
    result["first"] = run_job(ctx, source, directory)
    result["unchanged"] = run_job(ctx, source, directory)
    workdir = CACHE / "ingest-work"
    result["one_changed"] = run_job(ctx, source, change_one_file(directory, workdir))
    result["encode_alone"] = encode_alone(ctx, directory, source)
    result["ratio"] = round(result["first"]["wall_seconds"] / result["encode_alone"]["seconds"], 3)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"ingest-{args.corpus}.json").write_text(json.dumps(result, indent=2))
    text = report(args.corpus, result)
    (RESULTS / f"ingest-{args.corpus}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
