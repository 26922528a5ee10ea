"""Which ONNX file of the model encodes: `fp32` (the export, vectors equal to
sentence-transformers') or `int8` (its dynamic int8 quantisation). One setting,
THOTH_EMBEDDING_VARIANT, picks it for passages and queries alike, and every snapshot
records the variant it was embedded with, so vectors of two variants are never mixed."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from thoth.config import EmbeddingVariant as EmbeddingVariant

VARIANTS: tuple[EmbeddingVariant, ...] = get_args(EmbeddingVariant)
DEFAULT_VARIANT: EmbeddingVariant = "fp32"

ONNX_DIR = Path("onnx")  # sentence-transformers' layout for an ONNX backend
_FILES: dict[EmbeddingVariant, str] = {"fp32": "model.onnx", "int8": "model_qint8.onnx"}


def variant_file(directory: Path, variant: EmbeddingVariant) -> Path:
    """Where the model in `directory` keeps the ONNX file of `variant`."""
    return directory / ONNX_DIR / _FILES[variant]
