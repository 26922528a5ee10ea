"""`thoth model export-onnx`: write the embedding model's transformer as ONNX (fp32), and its
dynamic int8 quantisation, for the ONNX encoders of ingestion and the MCP server. Needs torch,
transformers and sentence-transformers (the `export` extra), so it runs once where an image
or a virtualenv is built (a builder stage of the Dockerfiles), never where Thoth runs.

Each file is checked before it is kept: ONNX Runtime's pooled vectors must equal
sentence-transformers' on a few probe texts (fp32), or point the same way (int8: cosine of
at least MIN_INT8_COSINE), and it is written to a temporary name and renamed, so a reader
never sees half a file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from thoth.embedding.models import EmbeddingModelError, mean_pooled_bert, resolve_model
from thoth.embedding.onnx_encoder import INPUT_NAMES, OUTPUT_NAME, OnnxQueryEncoder, onnx_model_path
from thoth.embedding.variants import variant_file

PROBES = (
    "How many weeks of parental leave do new parents get?",
    "SOC 2",
    "été naïve GitLab's C++ 1,234 中文 🙂",
    "on-call policy " * 200,
)
TOLERANCE = 1e-5
# Per-channel int8 weights keep ~0.99 mean cosine to fp32 on the sample handbook's chunks;
# per-tensor ones only ~0.95 (measured), so per-channel is what gets written.
MIN_INT8_COSINE = 0.97
OPSET = 17
Vectors = npt.NDArray[np.float32]


def export_onnx(model: str, *, force: bool = False) -> tuple[Path, bool]:
    """Export `model` (a THOTH_EMBEDDING_MODEL value) unless its export exists already.
    Returns the .onnx path and whether it was written now."""
    directory = Path(resolve_model(model))
    if not directory.is_dir() or not mean_pooled_bert(directory):
        raise EmbeddingModelError(
            f"{model!r} is not a local mean-pooled BERT model; only those have an ONNX query "
            "encoder (others are served through sentence-transformers)"
        )
    target, quantized = onnx_model_path(directory), variant_file(directory, "int8")
    if target.is_file() and quantized.is_file() and not force:
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    if force or not target.is_file():
        with _partial(target) as partial:
            _write(directory, partial)
            _verify(model, directory, partial, _equal)
    with _partial(quantized) as partial:
        _quantize(target, partial)
        _verify(model, directory, partial, _aligned)
    return target, True


@contextlib.contextmanager
def _partial(target: Path) -> Iterator[Path]:
    """A temporary name beside `target`, renamed to it when the block succeeds."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        yield partial
        partial.replace(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _quantize(source: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process, on the root logger
    quantize_dynamic(str(source), str(out), weight_type=QuantType.QInt8, per_channel=True)


def _write(directory: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    class LastHiddenState(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            output = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            hidden: torch.Tensor = output.last_hidden_state
            return hidden

    bert = AutoModel.from_pretrained(str(directory)).eval()
    example = torch.ones((1, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        torch.onnx.export(
            LastHiddenState(bert),
            (example, torch.ones_like(example), torch.zeros_like(example)),
            str(out),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


Check = Callable[[Vectors, Vectors], str | None]


def _verify(model: str, directory: Path, candidate: Path, check: Check) -> None:
    from thoth.embedding.embedder import load_embedder

    reference = load_embedder(model).encode(list(PROBES))
    encoder = OnnxQueryEncoder(model, directory, onnx_file=candidate)
    problem = check(encoder.encode(list(PROBES)), reference)
    if problem:
        raise EmbeddingModelError(f"{candidate.name} of {model!r}: {problem}; not kept")


def _equal(got: Vectors, reference: Vectors) -> str | None:
    worst = float(np.abs(got - reference).max())
    if worst > TOLERANCE:
        return f"differs from sentence-transformers by {worst:.2e} (> {TOLERANCE:.0e})"
    return None


def _aligned(got: Vectors, reference: Vectors) -> str | None:
    worst = float((got * reference).sum(1).min())
    if worst < MIN_INT8_COSINE:
        return f"cosine {worst:.3f} to sentence-transformers (< {MIN_INT8_COSINE})"
    return None
