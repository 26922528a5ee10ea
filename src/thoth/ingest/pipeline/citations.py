"""The links a job gives its documents and passages, and re-pointing carried-over ones.

Files carried over unchanged from the previous snapshot have the same text at the job's
commit, so their links are re-pinned to it: every link of one snapshot names one commit.
"""

from __future__ import annotations

import dataclasses
import json

import pyarrow as pa

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


def repin(citations: Citations, rows: pa.Table) -> pa.Table:
    """Document or chunk rows with their `url` column made again from `citations` (from
    each row's path, and anchor when the rows have one)."""
    paths = rows["path"].to_pylist()
    has_anchors = "anchor" in rows.column_names
    anchors = rows["anchor"].to_pylist() if has_anchors else [""] * len(paths)
    urls = pa.array(map(citations.url, paths, anchors), pa.string())
    column = rows.schema.get_field_index("url")
    return rows.set_column(column, rows.schema.field(column), urls)
