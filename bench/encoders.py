"""The embedders the quality benches can put under Thoth's chunks and questions, by name."""

from __future__ import annotations

from bge_encoder import Bge
from mpnet_encoder import Mpnet

from thoth.embedding import Embedder, PassageEncoder

OTHER_ENCODERS = ("bge-small-int8", "mpnet")
BenchEncoder = PassageEncoder | Bge | Mpnet  # what may embed Thoth's chunks in a quality bench


def other_encoder(name: str, minilm: Embedder) -> Bge | Mpnet:
    """bge-small (bench/bge_encoder.py) or all-mpnet-base-v2 (bench/mpnet_encoder.py)."""
    if name == "bge-small-int8":
        return Bge(minilm)
    if name == "mpnet":
        return Mpnet(minilm)
    raise ValueError(f"unknown encoder {name!r}; known: {', '.join(OTHER_ENCODERS)}")
