"""Embedding models: ONNX Runtime encoders for passages at ingestion (onnx_passages) and
queries in the MCP server (onnx_encoder, bert_numpy, query), the tokenizer the chunker counts
with (tokens), and sentence-transformers on torch (embedder) as the reference they are checked
against and the fallback for models they do not reproduce. Nothing here imports torch unless
that fallback is used."""

from thoth.embedding.bert_numpy import BertQueryEncoder, numpy_query_encoder_supports
from thoth.embedding.embedder import Embedder, load_embedder
from thoth.embedding.models import EmbeddingModelError, resolve_model
from thoth.embedding.onnx_encoder import OnnxQueryEncoder, onnx_model_path
from thoth.embedding.onnx_passages import OnnxPassageEncoder
from thoth.embedding.passages import PassageEncoder, load_passage_encoder
from thoth.embedding.query import load_query_encoder
from thoth.embedding.tokens import ModelTokenCounter
from thoth.embedding.variants import DEFAULT_VARIANT, VARIANTS, EmbeddingVariant, variant_file

__all__ = [
    "DEFAULT_VARIANT",
    "VARIANTS",
    "BertQueryEncoder",
    "Embedder",
    "EmbeddingModelError",
    "EmbeddingVariant",
    "ModelTokenCounter",
    "OnnxPassageEncoder",
    "OnnxQueryEncoder",
    "PassageEncoder",
    "load_embedder",
    "load_passage_encoder",
    "load_query_encoder",
    "numpy_query_encoder_supports",
    "onnx_model_path",
    "resolve_model",
    "variant_file",
]
