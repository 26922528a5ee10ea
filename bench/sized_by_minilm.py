"""The part every other bench encoder shares: chunks and token counts come from MiniLM's
tokenizer, so the chunks are the same whichever model embeds them."""

from __future__ import annotations

from collections.abc import Sequence

from thoth.embedding import Embedder


class SizedByMiniLM:
    def __init__(self, minilm: Embedder) -> None:
        self._minilm = minilm
        self.max_tokens = minilm.max_tokens

    def tokenizer_json(self) -> str:
        return self._minilm.tokenizer_json()

    def count(self, text: str) -> int:
        return self._minilm.count(text)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        return self._minilm.count_many(texts)
