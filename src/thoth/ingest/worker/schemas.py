"""Request and response bodies of the worker's HTTP API. Everything from outside is validated."""

from __future__ import annotations

from pydantic import BaseModel, Field

from thoth.ingest.jobs import JOB_ID_PATTERN
from thoth.ingest.push import PushTask
from thoth.ingest.sources.models import SOURCE_PATTERN, InputModel


class StrictModel(InputModel):
    """A request body: unknown fields and text that is not UTF-8 are refused."""


class IngestRequest(StrictModel):
    source: str = Field(pattern=SOURCE_PATTERN, description="The source to ingest.")
    full: bool = Field(False, description="Re-embed every file, not only changed ones.")


class IngestAccepted(BaseModel):
    job_id: str
    source: str
    status_url: str


class JobTask(StrictModel):
    job_id: str = Field(pattern=JOB_ID_PATTERN)


class BatchTask(JobTask):
    batch: int = Field(ge=0, le=1_000_000)
    # The batch's first file this delivery takes: 0, or where an earlier part stopped.
    start: int = Field(0, ge=0, le=1_000)


class PushBody(PushTask, InputModel):
    """A PushTask as the worker takes it (push.py, shared with the webhook receiver, keeps
    its plain base): text that is not UTF-8 is refused here too."""


class ErrorBody(BaseModel):
    detail: str
