"""The part every other bench encoder shares: chunks and token counts come from MiniLM's
tokenizer, so the chunks are the same whichever model embeds them."""

from __future__ import annotations

from tokenizers import Tokenizer

from thoth.embedding import Embedder
from thoth.embedding.tokens import CountsTokens, ModelTokenCounter


class SizedByMiniLM(CountsTokens):
    def __init__(self, minilm: Embedder) -> None:
        self._counter = ModelTokenCounter(Tokenizer.from_str(minilm.tokenizer_json()))
        self.max_tokens = minilm.max_tokens
