"""A small LRU of query vectors: assistants often repeat a query (retries, follow-ups), and a
hit skips the forward pass. Vectors are returned read-only because callers share them.
CachedQueryEncoder puts it in front of a torch-free encoder's forward pass."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
QUERY_CACHE_SIZE = 1024


class QueryVectorCache:
    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self._size = size
        self._vectors: OrderedDict[str, Vector] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, text: str, compute: Callable[[str], Vector]) -> Vector:
        with self._lock:
            hit = self._vectors.get(text)
            if hit is not None:
                self._vectors.move_to_end(text)
                return hit
        vector = compute(text)  # outside the lock: concurrent queries encode in parallel
        vector.setflags(write=False)
        with self._lock:
            self._vectors[text] = vector
            if len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return vector


class CachedQueryEncoder(ABC):
    """What the torch-free encoders share: `encode_query` through the cache, `encode` for a
    few texts (tests and checks), both over the subclass's one-text `_forward`."""

    dimensions: int

    def __init__(self) -> None:
        self._cache = QueryVectorCache()

    @abstractmethod
    def _forward(self, text: str) -> Vector: ...

    def encode_query(self, text: str) -> Vector:
        return self._cache.get_or_compute(text, self._forward)

    def encode(self, texts: Sequence[str]) -> Vector:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([self._forward(t) for t in texts])
