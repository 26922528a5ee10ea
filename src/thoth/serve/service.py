"""What the tools work on: the index cache and the query encoder, loaded once per process."""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

from thoth.config import Settings
from thoth.serve.loader import IndexCache
from thoth.serve.search import QueryEncoder, Reranker, SearchEngine

log = logging.getLogger(__name__)


class ThothService:
    """The loaded state one process serves from. `engine()` is cheap: call it per request."""

    def __init__(
        self,
        settings: Settings,
        cache: IndexCache,
        encoder: QueryEncoder | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self._encoder = encoder
        # Loaded on the first search that asks for it (thoth.embedding.reranker).
        self.reranker = (
            reranker or importlib.import_module("thoth.embedding.reranker").available_reranker()
        )
        self.encoder_error: str | None = None
        self._loading: threading.Thread | None = None

    @property
    def encoder(self) -> QueryEncoder | None:
        return self._encoder

    def engine(self) -> SearchEngine:
        return SearchEngine(self.cache.indexes, self._encoder, self.reranker)

    def load_encoder(self) -> None:
        """Load the query encoder (blocking: ~0.3 s for the bundled model, ~5 s through
        sentence-transformers for others; thoth.embedding.query says which)."""
        if self._encoder is not None:
            return
        try:
            # ONNX Runtime (or numpy) for the bundled model (~0.3 s, no torch); any other
            # model falls back to sentence-transformers (torch takes seconds to import, so
            # it is imported here, off the path of /health).
            embedding = importlib.import_module("thoth.embedding")
            embedder: Any = embedding.load_query_encoder(
                self.settings.embedding_model, self.settings.embedding_variant
            )
            embedder.encode_query("warm up")
            self._encoder = embedder
            self.encoder_error = None
            log.info("embedding model %s loaded", self.settings.embedding_model)
        except Exception as exc:
            self.encoder_error = f"embedding model not loaded: {type(exc).__name__}: {exc}"[:500]
            log.exception("embedding model %s failed to load", self.settings.embedding_model)

    def start_loading_encoder(self) -> None:
        """Load the model in a daemon thread, so /health answers while it loads."""
        if self._encoder is None and self._loading is None:
            self._loading = threading.Thread(
                target=self.load_encoder, name="thoth-encoder-load", daemon=True
            )
            self._loading.start()
