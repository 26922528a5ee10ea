"""What every pipeline step needs, built once per process and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from thoth.bucket.store import BlobStore
from thoth.config import Settings
from thoth.embedding import PassageEncoder, load_passage_encoder
from thoth.ingest.budget import BudgetLimits, ParseBudget
from thoth.ingest.jobs import JobStore
from thoth.ingest.tasks import Enqueuer, TaskQueue


@dataclass
class Context:
    settings: Settings
    store: BlobStore
    tasks: Enqueuer
    jobs: JobStore = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = JobStore(self.store, timedelta(seconds=self.settings.job_lease_seconds))

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        return cls(settings, BlobStore.from_settings(settings), TaskQueue(settings))

    @cached_property
    def embedder(self) -> PassageEncoder:
        """Loaded on first use, once per process (ONNX Runtime; no torch)."""
        return load_passage_encoder(
            self.settings.embedding_model,
            self.settings.embedding_variant,
            self.settings.embedding_batch_size,
            self.settings.embed_threads,
        )

    @cached_property
    def parse_budget(self) -> ParseBudget:
        """The parse children of this process (started on first use)."""
        limits = BudgetLimits.from_settings(self.settings)
        return ParseBudget(limits, self.embedder.tokenizer_json())

    @property
    def max_tokens(self) -> int:
        model_max = self.embedder.max_tokens
        wanted = self.settings.chunk_max_tokens
        return min(wanted, model_max) if wanted else model_max
