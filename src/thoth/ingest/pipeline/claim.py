"""Finalize's claim: a create-only marker so two deliveries of one job never build at once.

The holder renews it while it works (a heartbeat) and deletes it when it fails, so a retry
starts at once after an error, and within CLAIM_TTL after a crash.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime, timedelta

from thoth.bucket.keys import finalize_claim_key
from thoth.bucket.store import BlobStore, NotFound, PreconditionFailed
from thoth.errors import ConflictError

log = logging.getLogger(__name__)

CLAIM_TTL = timedelta(seconds=60)


class NotReady(ConflictError):
    """Finalize arrived before every batch finished, or another delivery is finalizing."""


class ClaimHeld(NotReady):
    """Another delivery holds a live claim: it will finish the job, or its claim expires."""


class Claim:
    def __init__(self, store: BlobStore, job_id: str, token: str, generation: int) -> None:
        self.store, self.job_id, self.token, self.generation = store, job_id, token, generation

    @classmethod
    def take(cls, store: BlobStore, job_id: str) -> Claim:
        """Claim the job's finalize; NotReady while another delivery holds a live claim."""
        key = finalize_claim_key(job_id)
        token = secrets.token_hex(8)
        try:
            return cls(store, job_id, token, store.write(key, _payload(token), if_generation=0))
        except PreconditionFailed:
            pass
        busy = ClaimHeld(f"job {job_id} is being finalized by another delivery")
        try:
            data, generation = store.read(key)
        except NotFound:
            raise busy from None
        if not _expired(data):
            raise busy
        try:  # the claimant died: take over
            generation = store.write(key, _payload(token), if_generation=generation)
        except PreconditionFailed as exc:
            raise busy from exc
        return cls(store, job_id, token, generation)

    def renew(self) -> None:
        key = finalize_claim_key(self.job_id)
        self.generation = self.store.write(key, _payload(self.token), if_generation=self.generation)

    def release(self) -> None:
        """Best effort: a claim left behind expires after CLAIM_TTL."""
        try:
            self.store.delete(finalize_claim_key(self.job_id), if_generation=self.generation)
        except (NotFound, PreconditionFailed):
            pass
        except Exception as exc:
            log.warning("could not release the finalize claim of %s: %s", self.job_id, exc)


def _payload(token: str) -> bytes:
    return json.dumps({"token": token, "at": datetime.now(UTC).isoformat()}).encode()


def _expired(data: bytes) -> bool:
    try:
        at = datetime.fromisoformat(json.loads(data)["at"])
    except (ValueError, KeyError, TypeError):
        try:  # claims written before they were JSON held the time alone
            at = datetime.fromisoformat(data.decode())
        except ValueError:
            return True
    return datetime.now(UTC) - at >= CLAIM_TTL
