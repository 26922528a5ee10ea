"""Which passage encoder ingestion uses: OnnxPassageEncoder when the model has an ONNX file of
the configured variant (the images and `make install` make both), else sentence-transformers
on torch (fp32 only, and only where torch is installed: development machines)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from thoth.embedding.embedder import Embedder, load_embedder
from thoth.embedding.models import EmbeddingModelError, resolve_model
from thoth.embedding.onnx_encoder import onnx_model_path, onnx_query_encoder_supports
from thoth.embedding.onnx_passages import OnnxPassageEncoder
from thoth.embedding.variants import EmbeddingVariant

PassageEncoder = OnnxPassageEncoder | Embedder


@cache
def load_passage_encoder(
    model: str, variant: EmbeddingVariant, batch_size: int = 64, threads: int = 0
) -> PassageEncoder:
    """The encoder for the settings THOTH_EMBEDDING_MODEL, THOTH_EMBEDDING_VARIANT,
    THOTH_EMBEDDING_BATCH_SIZE and THOTH_EMBED_THREADS, loaded once per process."""
    location = Path(resolve_model(model))
    if location.is_dir() and onnx_query_encoder_supports(location, variant):
        return OnnxPassageEncoder(
            model, location, variant=variant, batch_size=batch_size, threads=threads
        )
    if variant != "fp32":
        raise EmbeddingModelError(
            f"no {variant} ONNX file for {model!r} at {onnx_model_path(location, variant)} "
            "(THOTH_EMBEDDING_VARIANT): run `thoth model export-onnx`"
        )
    return load_embedder(model, batch_size, threads)
