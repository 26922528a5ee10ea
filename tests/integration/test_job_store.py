"""JobStore against the real fake-gcs-server."""

from __future__ import annotations

from thoth.bucket.keys import source_lock_key
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


def test_a_job_whose_lease_lapsed_is_failed_when_another_takes_its_source(
    store: BlobStore,
) -> None:
    """Its worker stopped during a task's last attempt (out of memory): nothing recorded the
    end, and the job would read as running for ever."""
    jobs = JobStore(store)
    stopped = Job(job_id=new_job_id(), source="handbook", status=JobStatus.running)
    jobs.create(stopped)
    assert jobs.acquire_lock("handbook", stopped.job_id) is None
    holder, generation = store.read_json(source_lock_key("handbook"))
    holder["at"] = "2000-01-01T00:00:00+00:00"  # not renewed since
    store.write_json(source_lock_key("handbook"), holder, if_generation=generation)
    successor = new_job_id()
    jobs.create(Job(job_id=successor, source="handbook", status=JobStatus.running))
    assert jobs.acquire_lock("handbook", successor) is None
    failed, _ = jobs.get(stopped.job_id)
    assert failed.status == JobStatus.failed
    assert f"lost its lease to job {successor}" in str(failed.error)
    assert "out of memory" in str(failed.error)
    assert jobs.holder("handbook") == successor  # the takeover stands
