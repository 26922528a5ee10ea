"""Embedding models: sentence-transformers for passages at ingestion (embedder), and the
torch-free query encoders the MCP server uses (query, onnx_encoder, bert_numpy)."""

from thoth.embedding.bert_numpy import BertQueryEncoder, numpy_query_encoder_supports
from thoth.embedding.embedder import Embedder, load_embedder
from thoth.embedding.models import EmbeddingModelError, resolve_model
from thoth.embedding.onnx_encoder import OnnxQueryEncoder, onnx_model_path
from thoth.embedding.query import load_query_encoder

__all__ = [
    "BertQueryEncoder",
    "Embedder",
    "EmbeddingModelError",
    "OnnxQueryEncoder",
    "load_embedder",
    "load_query_encoder",
    "numpy_query_encoder_supports",
    "onnx_model_path",
    "resolve_model",
]
