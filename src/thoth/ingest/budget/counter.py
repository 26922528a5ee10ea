"""The embedding model's tokenizer without the model: what a parse child counts tokens with."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from tokenizers import Tokenizer

# Bounds one encode call: tokenizers keeps per-character alignment data while it encodes.
_BATCH_CHARS = 262_144
_BATCH_TEXTS = 1024


class TokenizerCounter:
    """A TokenCounter over a serialized `tokenizers` tokenizer (no truncation, no padding)."""

    def __init__(self, tokenizer_json: str) -> None:
        # One thread: the child's memory ceiling must not be shared with a thread pool.
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def count(self, text: str) -> int:
        return self.count_many([text])[0]

    def count_many(self, texts: Sequence[str]) -> list[int]:
        counts: list[int] = []
        for batch in _batches(texts):
            encodings = self._tokenizer.encode_batch_fast(batch, add_special_tokens=True)
            counts.extend(len(encoding.ids) for encoding in encodings)
        return counts


def _batches(texts: Sequence[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    chars = 0
    for text in texts:
        if batch and (chars + len(text) > _BATCH_CHARS or len(batch) == _BATCH_TEXTS):
            yield batch
            batch, chars = [], 0
        batch.append(text)
        chars += len(text)
    if batch:
        yield batch
