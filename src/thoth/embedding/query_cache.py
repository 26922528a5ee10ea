"""A small LRU of query vectors: assistants often repeat a query (retries, follow-ups), and a
hit skips the forward pass. Vectors are returned read-only because callers share them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

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
