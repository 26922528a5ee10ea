"""Passage embedding with ONNX Runtime: what the ingestion worker encodes chunks with.

Texts are tokenized as sentence-transformers tokenizes them (the model's tokenizer.json,
truncated at its max_seq_length word pieces, special tokens included), sorted by length and
encoded in batches padded to their longest text; mean pooling counts only the tokens the
attention mask marks, then vectors are L2-normalised. The fp32 variant's vectors equal
sentence-transformers' to ~1e-6 (tested); bench/ingest.py measures the speed against it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from thoth.embedding.models import max_seq_length
from thoth.embedding.onnx_encoder import (
    OUTPUT_NAME,
    model_dimensions,
    onnx_model_path,
    open_session,
)
from thoth.embedding.tokens import CountsTokens, ModelTokenCounter
from thoth.embedding.variants import EmbeddingVariant

Vectors = npt.NDArray[np.float32]
_take_turns = threading.Lock()
# ONNX Runtime runs this graph's attention unfused: its (batch, heads, tokens, tokens) scores
# outgrow the caches for long texts in big batches. 150 chunks of 251 tokens on one thread
# took 32 s in batches of 64 and 15-17 s in batches of 1-4 (torch: 18 s), so a batch holds at
# most this many padded tokens (4 texts of 256; 32 of 32).
BATCH_TOKENS = 1024


class OnnxPassageEncoder(CountsTokens):
    """Embeds passages in length-sorted batches; also the TokenCounter the chunker sizes
    chunks with (the same tokenizer, without truncation)."""

    def __init__(
        self,
        name: str,
        directory: Path,
        *,
        variant: EmbeddingVariant,
        batch_size: int,
        threads: int,
        onnx_file: Path | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        self.name = name
        self.variant = variant
        self.batch_size = batch_size
        self.threads = threads
        self.dimensions = model_dimensions(directory)
        self.max_tokens = max_seq_length(directory)
        self._counter = ModelTokenCounter.from_directory(directory)
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer = tokenizer
        path = onnx_file or onnx_model_path(directory, variant)
        self._session = open_session(path, threads)

    def encode(self, texts: Sequence[str]) -> Vectors:
        """(len(texts), dimensions) L2-normalised float32 vectors."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self._tokenizer.encode_batch_fast(list(texts))]
        # Longest first, as sentence-transformers does: each batch pads little.
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        # With a fixed thread count (THOTH_EMBED_THREADS, default 1) concurrent batches
        # encode side by side, one core each; on every usable CPU they take turns.
        with _take_turns if not self.threads else contextlib.nullcontext():
            for rows in self._batches(order, ids):
                out[rows] = self._encode_batch([ids[i] for i in rows])
        return out

    def _batches(self, order: list[int], ids: list[list[int]]) -> Iterator[list[int]]:
        """Up to batch_size texts, and at most BATCH_TOKENS padded tokens, per forward pass."""
        rows: list[int] = []
        for i in order:
            if rows and (
                len(rows) == self.batch_size or (len(rows) + 1) * len(ids[rows[0]]) > BATCH_TOKENS
            ):
                yield rows
                rows = []
            rows.append(i)
        if rows:
            yield rows

    def encode_query(self, text: str) -> npt.NDArray[np.float32]:
        vector: npt.NDArray[np.float32] = self.encode([text])[0]
        return vector

    def _encode_batch(self, batch: list[list[int]]) -> Vectors:
        width = max(len(row) for row in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for i, row in enumerate(batch):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feed = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "token_type_ids": np.zeros_like(input_ids),
        }
        hidden = self._session.run([OUTPUT_NAME], feed)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return vectors
