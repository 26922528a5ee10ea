"""The links a job gives its documents and passages, and re-pointing carried-over ones.

Files carried over unchanged from the previous snapshot have the same text at the job's
commit, so their links are re-pinned to it: every link of one snapshot names one commit.
"""

from __future__ import annotations

import dataclasses
import json

from thoth.bucket.records import ChunkRecord, DocumentRecord
from thoth.ingest.jobs import Job
from thoth.ingest.pipeline.context import Context
from thoth.ingest.sources.models import Citations
from thoth.ingest.sources.registry import get_source


def job_citations(ctx: Context, job: Job) -> Citations:
    config = get_source(ctx.store, job.source)
    return Citations(
        base_url=config.base_url,
        web_url=job.plan.web_url if job.plan else None,
        commit=job.commit,
        path_prefix=config.path_prefix if config.kind == "gitlab" else "",
    )


def links(citations: Citations) -> str:
    """What decides every link of a version, as one comparable string."""
    return json.dumps(dataclasses.asdict(citations), sort_keys=True)


def repin(
    citations: Citations, documents: list[DocumentRecord], chunks: list[ChunkRecord]
) -> tuple[list[DocumentRecord], list[ChunkRecord]]:
    return (
        [dataclasses.replace(d, url=citations.url(d.path)) for d in documents],
        [dataclasses.replace(c, url=citations.url(c.path, c.anchor)) for c in chunks],
    )
