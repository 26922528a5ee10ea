"""Which query encoder the MCP server uses, best first:

1. OnnxQueryEncoder, when the model has an ONNX export (`thoth model export-onnx`; the images
   and `make install` make one for the bundled model): ~3.5 ms a query, no torch.
2. BertQueryEncoder, a numpy forward pass of the same weights: ~11 ms a query, no torch.
3. The sentence-transformers Embedder, for models neither reproduces (other architectures or
   pooling): torch, ~4 s to import.
All three give the same vectors for the bundled model (tested). With THOTH_EMBEDDING_VARIANT
int8, only the int8 ONNX file encodes queries, as it encoded the passages.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from thoth.embedding.bert_numpy import BertQueryEncoder, numpy_query_encoder_supports
from thoth.embedding.embedder import Embedder, load_embedder
from thoth.embedding.models import EmbeddingModelError, resolve_model
from thoth.embedding.onnx_encoder import (
    OnnxQueryEncoder,
    onnx_model_path,
    onnx_query_encoder_supports,
)
from thoth.embedding.variants import DEFAULT_VARIANT, EmbeddingVariant

log = logging.getLogger(__name__)

QueryEncoderImpl = OnnxQueryEncoder | BertQueryEncoder | Embedder


@cache
def load_query_encoder(model: str, variant: EmbeddingVariant = DEFAULT_VARIANT) -> QueryEncoderImpl:
    """The fastest encoder that reproduces `model` exactly (see the module docstring)."""
    location = Path(resolve_model(model))
    if variant != DEFAULT_VARIANT:
        if not (location.is_dir() and onnx_query_encoder_supports(location, variant)):
            raise EmbeddingModelError(
                f"no {variant} ONNX file for {model!r} at {onnx_model_path(location, variant)} "
                "(THOTH_EMBEDDING_VARIANT): run `thoth model export-onnx`"
            )
        return OnnxQueryEncoder(model, location, variant=variant)
    if location.is_dir() and onnx_query_encoder_supports(location):
        try:
            return OnnxQueryEncoder(model, location)
        except Exception:  # a broken or foreign .onnx file: the next encoder still works
            log.warning("cannot use the ONNX export of %s", model, exc_info=True)
    if location.is_dir() and numpy_query_encoder_supports(location):
        if not onnx_query_encoder_supports(location):
            log.warning(
                "no ONNX export of %s: queries use the slower numpy encoder; "
                "run `thoth model export-onnx` to make one",
                model,
            )
        try:
            return BertQueryEncoder(model, location)
        except (OSError, ValueError, KeyError, ImportError):
            pass  # fall back to sentence-transformers, which will say what is wrong
    return load_embedder(model)
