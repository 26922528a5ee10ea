"""`thoth model export-onnx`: write the embedding model's transformer as ONNX, for the MCP
server's OnnxQueryEncoder. Needs torch, transformers and onnx (the ingestion dependencies),
so it runs once when an image or a virtualenv is built, never on the serving path.

The file is checked before it is kept: ONNX Runtime's pooled vectors must equal
sentence-transformers' on a few probe texts, and it is written to a temporary name and
renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import numpy as np

from thoth.embedding.models import EmbeddingModelError, mean_pooled_bert, resolve_model
from thoth.embedding.onnx_encoder import INPUT_NAMES, OUTPUT_NAME, OnnxQueryEncoder, onnx_model_path

PROBES = (
    "How many weeks of parental leave do new parents get?",
    "SOC 2",
    "été naïve GitLab's C++ 1,234 中文 🙂",
    "on-call policy " * 200,
)
TOLERANCE = 1e-5
OPSET = 17


def export_onnx(model: str, *, force: bool = False) -> tuple[Path, bool]:
    """Export `model` (a THOTH_EMBEDDING_MODEL value) unless its export exists already.
    Returns the .onnx path and whether it was written now."""
    directory = Path(resolve_model(model))
    if not directory.is_dir() or not mean_pooled_bert(directory):
        raise EmbeddingModelError(
            f"{model!r} is not a local mean-pooled BERT model; only those have an ONNX query "
            "encoder (others are served through sentence-transformers)"
        )
    target = onnx_model_path(directory)
    if target.is_file() and not force:
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        _write(directory, partial)
        _verify(model, directory, partial)
        partial.replace(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return target, True


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


def _verify(model: str, directory: Path, candidate: Path) -> None:
    from thoth.embedding.embedder import load_embedder

    reference = load_embedder(model).encode(list(PROBES))
    encoder = OnnxQueryEncoder(model, directory, onnx_file=candidate)
    got = encoder.encode(list(PROBES))
    worst = float(np.abs(got - reference).max())
    if worst > TOLERANCE:
        raise EmbeddingModelError(
            f"the ONNX export of {model!r} differs from sentence-transformers by {worst:.2e} "
            f"(> {TOLERANCE:.0e}); not kept"
        )
