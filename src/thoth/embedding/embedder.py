"""The sentence-transformers model on torch, loaded once per process, on CPU: the reference the
ONNX encoders are checked against (tests, `thoth model export-onnx`, bench/ingest.py), and the
fallback for models they do not reproduce. Ingestion encodes with OnnxPassageEncoder."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from thoth.embedding.models import EmbeddingModelError, resolve_model
from thoth.embedding.tokens import CountsTokens, ModelTokenCounter

_load_lock = threading.Lock()
_encode_lock = threading.Lock()


class Embedder(CountsTokens):
    """Embeds passages and queries; also the TokenCounter the chunker sizes chunks with."""

    variant = "fp32"  # what its vectors equal (THOTH_EMBEDDING_VARIANT)

    def __init__(self, name: str, model: Any, batch_size: int, threads: int = 0) -> None:
        self.name = name
        self.threads = threads
        if threads:
            import torch

            torch.set_num_threads(threads)  # process-wide: set by the worker, once
        self.dimensions = int(model.get_embedding_dimension())
        self.max_tokens = int(model.max_seq_length)
        self.batch_size = batch_size
        self._model = model
        # A private copy: sentence-transformers turns truncation on in the shared tokenizer,
        # and counts must see the whole text to prove nothing gets truncated.
        backend = model.tokenizer.backend_tokenizer
        self._counter = ModelTokenCounter(type(backend).from_str(backend.to_str()))

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """(len(texts), dimensions) L2-normalised float32 vectors."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        # With a fixed thread count (THOTH_EMBED_THREADS, default 1) concurrent batches encode
        # side by side, each on its own core. With torch's default (every core) they take
        # turns: two all-core encodes at once on 2 vCPUs ran 30 % slower than one after the
        # other. Measured (bench/ingest.py, Sourcegraph handbook, 2 batches at a time):
        # 1 thread each 1.03x encoding alone, all cores taking turns 1.08x.
        with _encode_lock if not self.threads else contextlib.nullcontext():
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> npt.NDArray[np.float32]:
        vector: npt.NDArray[np.float32] = self.encode([text])[0]
        return vector


@cache
def load_embedder(model: str, batch_size: int = 64, threads: int = 0) -> Embedder:
    """The Embedder for a model setting; the model itself is loaded once per process.
    `threads` > 0 fixes torch's thread count for the whole process (THOTH_EMBED_THREADS)."""
    return Embedder(model, _load_model(resolve_model(model)), batch_size, threads)


def _load_model(location: str) -> Any:
    with _load_lock:
        return _load_model_once(location)


@cache
def _load_model_once(location: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download weights at run time
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(location, device="cpu")
    except Exception as error:  # OSError, ValueError, HF errors: all mean "not loadable"
        raise EmbeddingModelError(
            f"cannot load embedding model {location!r} (set by THOTH_EMBEDDING_MODEL): "
            f"{type(error).__name__}"
        ) from None
