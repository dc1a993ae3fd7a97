"""The job queue's contract: one interface over the SQL outbox and Redis Streams.

The outbox row is the durable record of a job in every mode; a stream only dispatches it faster. A job
is keyed by (type, key), so enqueueing the same work twice is a no-op, and it is acknowledged only after
its processor succeeded. Failures retry with capped exponential backoff and, after ``max_attempts``, go
to the dead letters with their error kept.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# Kept on the row; long enough for a type, a location and a short reason.
MAX_ERROR_CHARS = 500


class QueueUnavailable(Exception):
    """The queue's database cannot be reached right now."""


class JobError(Exception):
    """A job failure whose message names no personal text, so it may be kept as the job's last error."""


class RetryLater(JobError):
    """A dependency (LLM, embeddings, vector index) is down: retry with backoff, never dead-letter for it."""


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to enqueue: its type, its key (unique within the type) and what its processor needs."""

    job_type: str
    key: str
    payload: dict[str, Any]
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed job. ``attempts`` counts the failed runs before this one."""

    id: int
    job_type: str
    key: str
    payload: dict[str, Any]
    attempts: int
    urgent: bool
    user_id: int | None
    created_at: datetime
    # Redis Streams entry ids that delivered this job and are acknowledged with it.
    receipts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeadJob:
    """A job in the dead letters, with the error of its last attempt."""

    id: int
    job_type: str
    key: str
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class QueueStats:
    """What ``kindred jobs status`` shows."""

    backend: str
    depth: int  # pending: ready now or waiting for a retry
    ready: int
    in_flight: int
    retrying: int  # pending after at least one failure
    dead: int
    done_last_minute: int
    done_last_hour: int
    oldest_pending_age_s: float | None
    extra: dict[str, Any] = field(default_factory=dict)


class EnqueuesOne:
    """``enqueue`` for the queues, as their ``enqueue_many`` of one job."""

    async def enqueue_many(self, jobs: Sequence[NewJob], *, user_id: int | None = None) -> list[bool]:
        raise NotImplementedError

    async def enqueue(
        self,
        job_type: str,
        key: str,
        payload: dict[str, Any],
        *,
        user_id: int | None = None,
        urgent: bool = False,
    ) -> bool:
        """Record a job keyed ``job_type:key``; return False (doing nothing) when that key exists."""
        return (await self.enqueue_many([NewJob(job_type, key, payload, urgent)], user_id=user_id))[0]


class JobQueue(Protocol):
    """Durable, idempotent background jobs; several workers may share one queue."""

    backend: str

    async def enqueue(
        self,
        job_type: str,
        key: str,
        payload: dict[str, Any],
        *,
        user_id: int | None = None,
        urgent: bool = False,
    ) -> bool:
        """Record a job keyed ``job_type:key``; return False (doing nothing) when that key exists."""
        ...

    async def enqueue_many(self, jobs: Sequence[NewJob], *, user_id: int | None = None) -> list[bool]:
        """Record several jobs of one owner in one write; for each, False when its key existed."""
        ...

    async def claim(self, consumer: str, limit: int, wait_s: float = 0.0) -> list[Job]:
        """Reserve up to ``limit`` ready jobs for ``consumer``, waiting up to ``wait_s`` for the first."""
        ...

    async def complete(self, consumer: str, jobs: Sequence[Job]) -> None:
        """Mark jobs done and acknowledge them."""
        ...

    async def fail(self, consumer: str, jobs: Sequence[Job], error: str) -> None:
        """Count a failed attempt: retry after a backoff, or dead-letter after ``max_attempts``."""
        ...

    async def release(
        self, consumer: str, jobs: Sequence[Job], *, delay_s: float = 0.0, error: str | None = None
    ) -> None:
        """Hand jobs back unrun, not counting an attempt; ``delay_s`` holds them back (e.g. in an outage)."""
        ...

    async def extend(self, consumer: str, jobs: Sequence[Job]) -> None:
        """Renew the lease on jobs this consumer still works on."""
        ...

    async def retry_dead(self, job_type: str | None = None) -> int:
        """Send dead jobs (of one type, or all) back to the queue with fresh attempts; return how many."""
        ...

    async def dead_letters(self, limit: int = 50) -> list[DeadJob]:
        """Return the newest dead jobs with their errors."""
        ...

    async def redrive_stuck(self, now: datetime | None = None, older_than_s: float | None = None) -> int:
        """Release expired leases and dispatch again jobs left waiting too long; return how many."""
        ...

    async def prune_done(self, now: datetime | None = None) -> int:
        """Delete finished jobs older than the retention; return how many."""
        ...

    async def purge_user(self, user_id: int) -> int:
        """Delete every job of one person (forget-me); return how many."""
        ...

    async def stats(self) -> QueueStats:
        """Return queue depth, in-flight, retries, dead letters and throughput."""
        ...

    async def close(self) -> None: ...


def backoff_s(attempts: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Return the wait before retry number ``attempts``: exponential, capped, with equal jitter."""
    ceiling = min(cap_s, base_s * 2 ** max(attempts - 1, 0))
    # Half fixed, half random: retries of jobs that failed together (an outage) spread out on return.
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def describe_error(exc: BaseException) -> str:
    """Return a short error description safe to keep: the type and where it was raised.

    Only a JobError's message is kept: other exceptions may quote the text they were working on.
    """
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        where = f" at {last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}"
    reason = f": {exc}" if isinstance(exc, JobError) and str(exc) else ""
    return f"{type(exc).__qualname__}{reason}{where}"[:MAX_ERROR_CHARS]
