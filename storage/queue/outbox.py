"""The SQL outbox: the durable record of every job, and on its own the embedded queue.

A worker claims ready rows in one atomic statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite
serialises writers), which sets a lease. A live worker renews its lease; a dead one's lapses and the job
becomes claimable again, so a job survives any restart.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.config import QueueSettings
from storage.queue.base import (
    MAX_ERROR_CHARS,
    DeadJob,
    EnqueuesOne,
    Job,
    NewJob,
    QueueStats,
    QueueUnavailable,
    backoff_s,
)
from storage.sql.models import Job as JobRow
from storage.sql.models import utcnow

log = logging.getLogger(__name__)

PENDING, RUNNING, DONE, DEAD = "pending", "running", "done", "dead"
# One sweep re-dispatches at most this many jobs; the next sweep takes the rest.
SWEEP_LIMIT = 1000


def job_key(job_type: str, key: str) -> str:
    """Return the outbox key of a job: its type and its own key, e.g. ``index:discord:1234``."""
    return f"{job_type}:{key}"


def _job(row: JobRow, receipts: tuple[str, ...] = ()) -> Job:
    return Job(
        id=row.id,
        job_type=row.job_type,
        key=row.job_key.partition(":")[2],
        payload=dict(row.payload or {}),
        attempts=row.attempts,
        urgent=bool(row.urgent),
        user_id=row.user_id,
        created_at=row.created_at,
        receipts=receipts,
    )


def _claimable(now: datetime) -> Any:
    # Ready now, or leased by a worker that stopped renewing (it died).
    return or_(
        and_(JobRow.status == PENDING, JobRow.available_at <= now),
        and_(JobRow.status == RUNNING, JobRow.locked_until < now),
    )


@contextmanager
def _reachable() -> Iterator[None]:
    """Turn the database's connection errors into QueueUnavailable (the callers' one outage error)."""
    try:
        yield
    except (OperationalError, InterfaceError, OSError) as exc:
        raise QueueUnavailable(f"the job outbox cannot be reached: {type(exc).__name__}") from exc


class OutboxQueue(EnqueuesOne):
    """The job queue on SQL alone (the embedded default); also the durable half of the Redis queue."""

    backend = "sql"

    def __init__(self, engine: AsyncEngine, settings: QueueSettings) -> None:
        self.settings = settings
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, class_=AsyncSession)
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        # Wakes a waiting claim in this process as soon as a job is enqueued, instead of at the next poll.
        self._wake = asyncio.Event()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        with _reachable():
            async with self._sessions() as session:
                yield session

    @functools.cached_property
    def _insert(self) -> Any:
        insert = (postgresql.insert if self._postgres else sqlite.insert)(JobRow)
        return insert.on_conflict_do_nothing(index_elements=["job_key"]).returning(JobRow.id, JobRow.job_key)

    def _lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.settings.lease_s)

    # ------------------------------------------------------------ enqueue and claim

    async def insert(self, jobs: Sequence[NewJob], *, user_id: int | None = None) -> list[int | None]:
        """Insert job rows in one statement; return each one's id, None where its key already existed.

        One statement and one commit for a turn's jobs: on SQLite every commit takes the database's one write
        lock, which the turns being recorded wait for.
        """
        now = utcnow()
        keys = [job_key(job.job_type, job.key) for job in jobs]
        rows: dict[str, dict[str, Any]] = {}
        for key, job in zip(keys, jobs, strict=True):
            rows.setdefault(
                key,
                {
                    "job_key": key,
                    "job_type": job.job_type,
                    "user_id": user_id,
                    "payload": job.payload,
                    "status": PENDING,
                    "attempts": 0,
                    "available_at": now,
                    "created_at": now,
                    "updated_at": now,
                    "urgent": job.urgent,
                },
            )
        if not rows:
            return []
        # The rows as parameters of one cached Core statement (SQLAlchemy sends them as one multi-row INSERT):
        # rows inside the statement had it compiled again on every call, and the ORM session adds its own
        # bookkeeping for rows it never tracks (about 1.5 ms of CPU a turn together).
        with _reachable():
            async with self._engine.begin() as conn:
                made = {
                    str(key): int(i) for i, key in (await conn.execute(self._insert, list(rows.values())))
                }
        if made:
            self._wake.set()
        # A key given twice is one job: the first mention gets its id.
        return [made.pop(key, None) for key in keys]

    async def enqueue_many(self, jobs: Sequence[NewJob], *, user_id: int | None = None) -> list[bool]:
        """Record several jobs of one owner in one write; for each, False when its key existed."""
        return [i is not None for i in await self.insert(jobs, user_id=user_id)]

    async def claim(self, consumer: str, limit: int, wait_s: float = 0.0) -> list[Job]:
        """Reserve up to ``limit`` ready jobs, waiting up to ``wait_s`` (polling once more) for the first."""
        # Cleared before looking, so an enqueue that lands after the look still wakes the wait below.
        self._wake.clear()
        jobs = await self.claim_ready(consumer, limit)
        if jobs or wait_s <= 0:
            return jobs
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait_s)
        return await self.claim_ready(consumer, limit)

    async def claim_ready(self, consumer: str, limit: int) -> list[Job]:
        """Reserve up to ``limit`` ready jobs, urgent first, in one atomic statement."""
        now = utcnow()
        if not self._postgres and not await self._any_claimable(now):
            # On SQLite even an UPDATE that matches nothing takes the database's one write lock, which the
            # bot needs for recording turns; an idle poll reads instead (readers never block in WAL mode).
            return []
        pick = (
            select(JobRow.id)
            .where(_claimable(now))
            .order_by(JobRow.urgent.desc(), JobRow.available_at, JobRow.id)
            .limit(limit)
        )
        return await self._lease(consumer, self._picked(pick), now)

    async def _any_claimable(self, now: datetime) -> bool:
        async with self._session() as s:
            return (await s.scalar(select(JobRow.id).where(_claimable(now)).limit(1))) is not None

    def _picked(self, pick: Select[Any]) -> Any:
        """Return a condition matching exactly the rows ``pick`` selects, taken once."""
        if not self._postgres:
            # SQLite runs the subquery once and serialises writers, so the rows cannot change under it.
            return JobRow.id.in_(pick.scalar_subquery())
        # Concurrent workers skip each other's rows instead of queueing behind their locks. A CTE is run
        # once; the same subquery under IN may be re-run mid-update and then take more than ``limit`` rows.
        picked = pick.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        return JobRow.id.in_(select(picked.c.id))

    async def claim_ids(self, consumer: str, ids: Sequence[int]) -> list[Job]:
        """Reserve these jobs if they are claimable (the stream delivered them)."""
        if not ids:
            return []
        return await self._lease(consumer, JobRow.id.in_(list(ids)), utcnow())

    async def _lease(self, consumer: str, which: Any, now: datetime) -> list[Job]:
        stmt = (
            update(JobRow)
            .where(which, _claimable(now))
            .values(status=RUNNING, locked_by=consumer, locked_until=self._lease_until(now), updated_at=now)
            .returning(JobRow)
            .execution_options(synchronize_session=False)
        )
        async with self._session() as s:
            rows = list((await s.execute(stmt)).scalars().all())
            await s.commit()
        rows.sort(key=lambda r: (not r.urgent, r.available_at, r.id))
        return [_job(r) for r in rows]

    async def leases(self, ids: Sequence[int]) -> dict[int, tuple[str, datetime | None]]:
        """Return (status, lease end) of these jobs; missing ids are gone (purged or pruned)."""
        if not ids:
            return {}
        async with self._session() as s:
            rows = await s.execute(
                select(JobRow.id, JobRow.status, JobRow.locked_until).where(JobRow.id.in_(list(ids)))
            )
            return {int(i): (status, until) for i, status, until in rows.all()}

    # ------------------------------------------------------------ outcomes

    async def complete(self, consumer: str, jobs: Sequence[Job]) -> None:
        """Mark jobs done, whoever holds them now: the work is done either way."""
        if not jobs:
            return
        now = utcnow()
        async with self._session() as s:
            await s.execute(
                update(JobRow)
                .where(JobRow.id.in_([j.id for j in jobs]), JobRow.status.in_((RUNNING, PENDING)))
                .values(status=DONE, done_at=now, updated_at=now, locked_by=None, locked_until=None)
                .execution_options(synchronize_session=False)
            )
            await s.commit()

    async def fail(self, consumer: str, jobs: Sequence[Job], error: str) -> None:
        """Count a failed attempt: retry after a backoff, or dead-letter after ``max_attempts``."""
        await self.record_failures(consumer, jobs, error)

    async def record_failures(
        self, consumer: str, jobs: Sequence[Job], error: str
    ) -> list[tuple[int, datetime]]:
        """Count a failed attempt on each job; return (id, retry time) of those that will be retried."""
        now = utcnow()
        retried: list[tuple[int, datetime]] = []
        async with self._session() as s:
            for job in jobs:
                attempts = job.attempts + 1
                values: dict[str, Any] = {
                    "attempts": attempts,
                    "last_error": error[:MAX_ERROR_CHARS],
                    "locked_by": None,
                    "locked_until": None,
                    "updated_at": now,
                }
                if attempts >= self.settings.max_attempts:
                    values["status"] = DEAD
                else:
                    wait = backoff_s(attempts, self.settings.backoff_base_s, self.settings.backoff_cap_s)
                    values["status"] = PENDING
                    values["available_at"] = now + timedelta(seconds=wait)
                result = await s.execute(
                    update(JobRow)
                    .where(JobRow.id == job.id, JobRow.status == RUNNING, JobRow.locked_by == consumer)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                if not result.rowcount:  # type: ignore[attr-defined]
                    # The lease lapsed and someone else has the job now; their outcome counts.
                    continue
                if values["status"] == DEAD:
                    log.warning(
                        "job %s (%s) failed %s times and went to the dead letters",
                        job.id,
                        job.job_type,
                        attempts,
                    )
                else:
                    retried.append((job.id, values["available_at"]))
            await s.commit()
        return retried

    async def release(
        self, consumer: str, jobs: Sequence[Job], *, delay_s: float = 0.0, error: str | None = None
    ) -> None:
        """Hand jobs back unrun (not an attempt); ``delay_s`` keeps them back, e.g. during an outage."""
        await self.release_rows(consumer, jobs, delay_s=delay_s, error=error)

    async def release_rows(
        self, consumer: str, jobs: Sequence[Job], *, delay_s: float = 0.0, error: str | None = None
    ) -> list[int]:
        """Hand jobs back unrun; return the ids that were still this consumer's."""
        if not jobs:
            return []
        now = utcnow()
        values: dict[str, Any] = {
            "status": PENDING,
            "locked_by": None,
            "locked_until": None,
            "available_at": now + timedelta(seconds=delay_s),
            "updated_at": now,
        }
        if error is not None:
            values["last_error"] = error[:MAX_ERROR_CHARS]
        async with self._session() as s:
            result = await s.execute(
                update(JobRow)
                .where(
                    JobRow.id.in_([j.id for j in jobs]),
                    JobRow.status == RUNNING,
                    JobRow.locked_by == consumer,
                )
                .values(**values)
                .returning(JobRow.id)
                .execution_options(synchronize_session=False)
            )
            released = [int(i) for i in result.scalars().all()]
            await s.commit()
        if released and delay_s <= 0:
            self._wake.set()
        return released

    async def extend(self, consumer: str, jobs: Sequence[Job]) -> None:
        """Renew the lease on jobs this consumer still holds."""
        if not jobs:
            return
        now = utcnow()
        async with self._session() as s:
            await s.execute(
                update(JobRow)
                .where(
                    JobRow.id.in_([j.id for j in jobs]),
                    JobRow.status == RUNNING,
                    JobRow.locked_by == consumer,
                )
                .values(locked_until=self._lease_until(now))
                .execution_options(synchronize_session=False)
            )
            await s.commit()

    # ------------------------------------------------------------ dead letters and maintenance

    async def retry_dead(self, job_type: str | None = None) -> int:
        """Send dead jobs back to the queue with fresh attempts; return how many."""
        return len(await self.retry_dead_ids(job_type))

    async def retry_dead_ids(self, job_type: str | None = None) -> list[int]:
        """Send dead jobs back to the queue with fresh attempts; return their ids."""
        now = utcnow()
        stmt = update(JobRow).where(JobRow.status == DEAD)
        if job_type is not None:
            stmt = stmt.where(JobRow.job_type == job_type)
        async with self._session() as s:
            result = await s.execute(
                stmt.values(status=PENDING, attempts=0, available_at=now, updated_at=now, last_error=None)
                .returning(JobRow.id)
                .execution_options(synchronize_session=False)
            )
            ids = [int(i) for i in result.scalars().all()]
            await s.commit()
        if ids:
            log.info("re-drove %s dead jobs", len(ids))
            self._wake.set()
        return ids

    async def dead_letters(self, limit: int = 50) -> list[DeadJob]:
        """Return the newest dead jobs with their errors."""
        async with self._session() as s:
            rows = await s.scalars(
                select(JobRow).where(JobRow.status == DEAD).order_by(JobRow.updated_at.desc()).limit(limit)
            )
            return [
                DeadJob(
                    r.id,
                    r.job_type,
                    r.job_key.partition(":")[2],
                    r.attempts,
                    r.last_error,
                    r.created_at,
                    r.updated_at,
                )
                for r in rows
            ]

    async def release_expired(self, now: datetime | None = None) -> list[int]:
        """Hand back jobs whose worker stopped renewing its lease; return their ids."""
        now = now or utcnow()
        async with self._session() as s:
            result = await s.execute(
                update(JobRow)
                .where(JobRow.status == RUNNING, JobRow.locked_until < now)
                .values(status=PENDING, locked_by=None, locked_until=None, updated_at=now)
                .returning(JobRow.id)
                .execution_options(synchronize_session=False)
            )
            ids = [int(i) for i in result.scalars().all()]
            await s.commit()
        if ids:
            log.info("released %s jobs whose worker stopped renewing the lease", len(ids))
        return ids

    async def stale_pending(self, now: datetime, older_than_s: float, limit: int = SWEEP_LIMIT) -> list[int]:
        """Return ready jobs nobody took for ``older_than_s``, marking them so the next sweep waits again."""
        cutoff = now - timedelta(seconds=older_than_s)
        pick = (
            select(JobRow.id)
            # Strictly before: the rows marked below get ``now``, so that with ``older_than_s`` 0 (the sweep
            # after a Redis outage) a sweep that pages through more than ``limit`` jobs moves on instead of
            # picking the same ones again for ever.
            .where(JobRow.status == PENDING, JobRow.available_at <= cutoff, JobRow.updated_at < cutoff)
            .order_by(JobRow.available_at)
            .limit(limit)
        )
        async with self._session() as s:
            result = await s.execute(
                update(JobRow)
                .where(self._picked(pick))
                .values(updated_at=now)
                .returning(JobRow.id)
                .execution_options(synchronize_session=False)
            )
            ids = [int(i) for i in result.scalars().all()]
            await s.commit()
        return ids

    async def redrive_stuck(self, now: datetime | None = None, older_than_s: float | None = None) -> int:
        """Release expired leases; on SQL alone every pending job is claimable already, so that is all."""
        return len(await self.release_expired(now))

    async def prune_done(self, now: datetime | None = None) -> int:
        """Delete finished jobs older than the retention; return how many."""
        cutoff = (now or utcnow()) - timedelta(seconds=self.settings.done_retention_s)
        async with self._session() as s:
            result = await s.execute(delete(JobRow).where(JobRow.status == DONE, JobRow.done_at < cutoff))
            await s.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def purge_user(self, user_id: int) -> int:
        """Delete every job of one person, whatever its state; return how many."""
        async with self._session() as s:
            result = await s.execute(delete(JobRow).where(JobRow.user_id == user_id))
            await s.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def stats(self) -> QueueStats:
        """Return queue depth, in-flight, retries, dead letters and throughput."""
        now = utcnow()
        async with self._session() as s:
            # Finished rows can be many, so they are only counted through the completion-time index.
            by_status = (
                await s.execute(
                    select(
                        JobRow.status,
                        func.count(),
                        func.sum(case((JobRow.available_at <= now, 1), else_=0)),
                        func.sum(
                            case((or_(JobRow.attempts > 0, JobRow.last_error.is_not(None)), 1), else_=0)
                        ),
                        func.min(JobRow.created_at),
                    )
                    .where(JobRow.status.in_((PENDING, RUNNING, DEAD)))
                    .group_by(JobRow.status)
                )
            ).all()
            done_minute, done_hour = (
                await s.execute(
                    select(
                        func.sum(case((JobRow.done_at >= now - timedelta(minutes=1), 1), else_=0)),
                        func.count(),
                    ).where(JobRow.status == DONE, JobRow.done_at >= now - timedelta(hours=1))
                )
            ).one()
        counts = {
            status: (int(n), int(ready or 0), int(retrying or 0), oldest)
            for status, n, ready, retrying, oldest in by_status
        }
        pending = counts.get(PENDING, (0, 0, 0, None))
        oldest = pending[3]
        if oldest is not None and oldest.tzinfo is None:
            # min() over the column bypasses the UTC type on some drivers.
            oldest = oldest.replace(tzinfo=now.tzinfo)
        return QueueStats(
            backend=self.backend,
            depth=pending[0],
            ready=pending[1],
            in_flight=counts.get(RUNNING, (0, 0, 0, None))[0],
            retrying=pending[2],
            dead=counts.get(DEAD, (0, 0, 0, None))[0],
            done_last_minute=int(done_minute or 0),
            done_last_hour=int(done_hour or 0),
            oldest_pending_age_s=(now - oldest).total_seconds() if oldest is not None else None,
        )

    async def close(self) -> None:
        """Nothing to close: the engine belongs to the storage service."""
