"""The embedding model's tokenizer, read from its tokenizer.json: what the chunker counts
tokens with, without loading the model (or torch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer

_COUNT_BATCH = 1024


class ModelTokenCounter:
    """Tokens per text in the model's tokenizer, special tokens included, never truncated:
    counts must see the whole text to prove a chunk fits the model."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    @classmethod
    def from_directory(cls, directory: Path) -> ModelTokenCounter:
        return cls(Tokenizer.from_file(str(directory / "tokenizer.json")))

    def tokenizer_json(self) -> str:
        """The counting tokenizer, serialized: parse children count with it."""
        return str(self._tokenizer.to_str())

    def count(self, text: str) -> int:
        return self.count_many([text])[0]

    def count_many(self, texts: Sequence[str]) -> list[int]:
        counts: list[int] = []
        for start in range(0, len(texts), _COUNT_BATCH):
            batch = list(texts[start : start + _COUNT_BATCH])
            encodings = self._tokenizer.encode_batch_fast(batch, add_special_tokens=True)
            counts.extend(len(encoding.ids) for encoding in encodings)
        return counts


class CountsTokens:
    """The chunker's TokenCounter, for an encoder that holds a ModelTokenCounter."""

    _counter: ModelTokenCounter

    def tokenizer_json(self) -> str:
        """The counting tokenizer, serialized: parse children count with it, without the model."""
        return self._counter.tokenizer_json()

    def count(self, text: str) -> int:
        return self._counter.count(text)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text in the model's tokenizer, special tokens included."""
        return self._counter.count_many(texts)
