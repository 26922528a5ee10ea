"""JobStore against the real fake-gcs-server."""

from __future__ import annotations

from thoth.bucket.store import BlobStore
from thoth.ingest.jobs import BatchResult, FileResult, Job, JobStatus, JobStore, new_job_id


def test_a_finished_job_drops_the_batch_results_it_remembered(store: BlobStore) -> None:
    """Progress polls remember each batch's results (read once, final); a worker that ran
    many large jobs would keep them all. Once the job's record holds its counts they go."""
    jobs = JobStore(store)
    job = Job(job_id=new_job_id(), source="handbook", status=JobStatus.running)
    jobs.create(job)
    files = [FileResult(path=f"page-{i}.md", outcome="indexed") for i in range(3)]
    jobs.mark_batch_done(job.job_id, BatchResult(batch=0, files=files))
    assert [r.batch for r in jobs.batch_results(job.job_id)] == [0]
    assert job.job_id in jobs._done
    stored, generation = jobs.get(job.job_id)
    stored.status = JobStatus.succeeded
    jobs.save(stored, generation)
    assert job.job_id not in jobs._done
    assert [r.batch for r in jobs.batch_results(job.job_id)] == [0]  # still readable
