"""Which token audiences the worker takes from its callers (thoth.ingest.worker.callers)."""

from __future__ import annotations

from thoth.auth import GCLOUD_CLIENT_ID
from thoth.config import Settings
from thoth.ingest.worker.callers import api_audiences


def test_gclouds_audience_is_taken_only_behind_cloud_run_iam() -> None:
    """Behind IAM a user's gcloud token (for gcloud's client) reaches /v1, as Cloud Run
    admits it; where the worker checks signatures itself, only tokens for the worker do."""
    url = "https://thoth-ingestion-1.us-central1.run.app"
    behind_iam = Settings(auth="iam", worker_url=url)
    alone = Settings(auth="jwks", worker_url=url)
    assert api_audiences(behind_iam) == [url, GCLOUD_CLIENT_ID]
    assert api_audiences(alone) == [url]
