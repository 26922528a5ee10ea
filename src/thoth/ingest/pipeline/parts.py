"""A batch done in parts. A delivery starts no further file once its budget is spent (Cloud
Tasks' dispatch deadline and Cloud Run's request timeout end a request that runs on, and a
retry would start the whole batch again, beside the first still running), writes what it
has, and hands the batch's other files to a follow-up task.

Where each part ends (the last one too) is recorded create-only, before its output is
written: every delivery of the part, a retry or a duplicate beside it, keeps to that cut and
covers the same files, so the parts of a batch never overlap or leave a gap whichever
delivery wrote them. The batch's last part sums the
parts up in the batch's done marker, which names them for finalize."""

from __future__ import annotations

import json

from thoth.bucket.keys import batch_cut_key, batch_part_key
from thoth.bucket.store import BlobStore, NotFound
from thoth.ingest.jobs import PartResult


class BrokenChain(RuntimeError):
    """A part's start that no recorded cut leads to."""


def read_cut(store: BlobStore, job_id: str, batch: int, start: int) -> int | None:
    """Where the part starting at `start` ends, once a delivery has cut it."""
    try:
        data, _ = store.read(batch_cut_key(job_id, batch, start))
    except NotFound:
        return None
    end = json.loads(data)["end"]
    if not isinstance(end, int) or end <= start:
        raise BrokenChain(f"batch {batch} of job {job_id}: bad cut {end!r} after file {start}")
    return end


def record_cut(store: BlobStore, job_id: str, batch: int, start: int, end: int) -> int:
    """Record that the part starting at `start` ends at `end`, unless a delivery did first:
    the end every delivery of the part keeps to."""
    if store.create_only(batch_cut_key(job_id, batch, start), json.dumps({"end": end}).encode()):
        return end
    recorded = read_cut(store, job_id, batch, start)
    if recorded is None:
        raise BrokenChain(f"batch {batch} of job {job_id}: the cut after file {start} vanished")
    return recorded


def save_part(store: BlobStore, job_id: str, batch: int, start: int, part: PartResult) -> None:
    store.write(batch_part_key(job_id, batch, start), part.model_dump_json().encode())


def part_starts(store: BlobStore, job_id: str, batch: int, last: int) -> list[int]:
    """The starts of the batch's parts up to `last`, following the recorded cuts from 0."""
    starts = [0]
    while starts[-1] != last:
        end = read_cut(store, job_id, batch, starts[-1])
        if end is None or end > last:
            raise BrokenChain(f"batch {batch} of job {job_id}: no cut leads to file {last}")
        starts.append(end)
    return starts


def read_parts(store: BlobStore, job_id: str, batch: int, starts: list[int]) -> list[PartResult]:
    return [
        PartResult.model_validate_json(store.read(batch_part_key(job_id, batch, start))[0])
        for start in starts
    ]
