"""The scheduler: APScheduler 3 on the running event loop, running jobs only while this process leads.

Every process runs an ``AsyncIOScheduler`` with the same jobs; each run first checks the leader lease and
does nothing unless this process holds it. Checking at run time, rather than pausing and resuming the
scheduler when a renewal notices a change, stays correct when the renewal itself is late or hangs: the
lease's deadline is read on the monotonic clock at the moment a job fires, so no job starts after this
process's lease could have expired, whatever the renew task is doing. A follower only pays a wake-up per
interval. A job already running when the lease is lost finishes; the jobs are idempotent, so the rare
overlap with the next leader's run does no harm.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import SchedulerSettings
from bot.scheduler.lease import SCHEDULER_LEASE, Lease, make_lease
from storage.service import StorageService

log = logging.getLogger(__name__)

RENEW_TASK_NAME = "kindred-scheduler-lease"
# Long enough to say what went wrong, short enough for a status embed.
MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """A periodic job: a fixed id, either an interval or a crontab line (UTC), and a no-argument coroutine."""

    id: str
    func: Callable[[], Awaitable[object]]
    interval_s: float | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a scheduled job needs an id")
        if (self.interval_s is None) == (self.cron is None):
            raise ValueError(f"job {self.id!r}: give exactly one of interval_s and cron")
        if self.interval_s is not None and self.interval_s <= 0:
            raise ValueError(f"job {self.id!r}: interval_s must be positive")
        self.trigger()  # a bad crontab line fails here, at registration, not at start

    def trigger(self) -> BaseTrigger:
        """Return the APScheduler trigger for this job."""
        if self.cron is not None:
            return CronTrigger.from_crontab(self.cron, timezone=UTC)
        assert self.interval_s is not None
        return IntervalTrigger(seconds=self.interval_s, timezone=UTC)

    @property
    def schedule(self) -> str:
        """Describe when the job runs, for status output."""
        return f"cron {self.cron} (UTC)" if self.cron is not None else f"every {self.interval_s:g}s"


@dataclass(slots=True)
class JobStatus:
    """What ``jobs status`` shows about one job, as seen by this process."""

    id: str
    schedule: str
    next_run_at: datetime | None = None
    runs: int = 0
    failures: int = 0
    # Times the job fired while another process led, so this one left it alone.
    skipped: int = 0
    running: bool = False
    last_started_at: datetime | None = None
    last_duration_s: float | None = None
    last_ok: bool | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None


class KindredScheduler:
    """Runs the registered periodic jobs in this process while it holds the scheduler lease."""

    def __init__(
        self,
        storage: StorageService,
        settings: SchedulerSettings,
        jobs: Iterable[ScheduledJob] = (),
        *,
        lease: Lease | None = None,
    ) -> None:
        self._settings = settings
        self.lease = lease or make_lease(storage, SCHEDULER_LEASE, settings.lease_ttl_s)
        self._jobs: dict[str, ScheduledJob] = {}
        self._state: dict[str, JobStatus] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[Any]] = set()
        self._stopping = False
        for job in jobs:
            self.register(job)

    @property
    def started(self) -> bool:
        """Return whether the scheduler is running in this process."""
        return self._scheduler is not None

    @property
    def is_leader(self) -> bool:
        """Return whether this process runs the jobs right now."""
        return self.lease.held

    # ------------------------------------------------------------ registration

    def register(self, job: ScheduledJob) -> None:
        """Add a job, or replace the one with the same id (a reloaded feature registers again)."""
        if self._stopping:
            raise RuntimeError("the scheduler is shut down")
        if job.id in self._jobs:
            log.debug("scheduled job %s replaced", job.id)
        self._jobs[job.id] = job
        state = self._state.get(job.id)
        if state is None:
            self._state[job.id] = JobStatus(job.id, job.schedule)
        else:
            state.schedule = job.schedule
        if self._scheduler is not None:
            self._add(self._scheduler, job)

    def unregister(self, job_id: str) -> bool:
        """Remove a job (when the feature that registered it unloads); return whether it was there."""
        if self._jobs.pop(job_id, None) is None:
            return False
        self._state.pop(job_id, None)
        if self._scheduler is not None and self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)
        return True

    def _add(self, scheduler: AsyncIOScheduler, job: ScheduledJob) -> None:
        scheduler.add_job(
            self._run,
            trigger=job.trigger(),
            args=(job.id,),
            id=job.id,
            name=job.id,
            replace_existing=True,
        )

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the scheduler on the running loop, take the lease if free and keep renewing it."""
        if not self._settings.enabled:
            log.info("scheduler disabled by configuration; this process runs no periodic jobs")
            return
        if self._scheduler is not None or self._stopping:
            raise RuntimeError("the scheduler can be started once")
        scheduler = AsyncIOScheduler(
            event_loop=asyncio.get_running_loop(),
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": self._settings.misfire_grace_time_s,
            },
        )
        # Knowing who leads before the first job fires spares a needless skip on the leader.
        await self.lease.acquire()
        for job in self._jobs.values():
            self._add(scheduler, job)
        scheduler.start()
        self._scheduler = scheduler
        self._renewer = asyncio.get_running_loop().create_task(self._renew_loop(), name=RENEW_TASK_NAME)
        log.info(
            "scheduler started with %s jobs; %s",
            len(self._jobs),
            "this process leads" if self.is_leader else "another process leads",
        )

    async def shutdown(self) -> None:
        """Stop scheduling, cancel running jobs, stop renewing and release the lease."""
        self._stopping = True
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            # A wake-up already queued on the loop must find nothing left to start.
            scheduler.remove_all_jobs()
            scheduler.shutdown(wait=False)
            # AsyncIOScheduler applies shutdown on the loop's next turn; let it run before collecting jobs.
            await asyncio.sleep(0)
        running = [task for task in self._running if not task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
            self._renewer = None
        # Released last, so no job of ours still runs when the next leader starts.
        await self.lease.release()

    async def _renew_loop(self) -> None:
        # A third of the TTL leaves two more tries before a slow store costs the lease.
        interval = self.lease.ttl_s / 3
        while True:
            await asyncio.sleep(interval)
            await self.lease.acquire()

    # ------------------------------------------------------------ running

    async def _run(self, job_id: str) -> None:
        job, state = self._jobs.get(job_id), self._state.get(job_id)
        if job is None or state is None:
            return
        if not self.lease.held:
            state.skipped += 1
            log.debug("scheduled job %s skipped: another process leads", job_id)
            return
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        state.running = True
        state.last_started_at = datetime.now(UTC)
        started = time.monotonic()
        try:
            await job.func()
        except asyncio.CancelledError:
            if self._stopping:
                # Cancelled by our own shutdown: end quietly rather than have APScheduler log a traceback.
                return
            raise
        except Exception as exc:
            self._finished(state, started, exc)
            log.exception("scheduled job %s failed", job_id)
        else:
            self._finished(state, started, None)
            log.debug("scheduled job %s done in %.3fs", job_id, state.last_duration_s)
        finally:
            state.running = False
            if task is not None:
                self._running.discard(task)

    @staticmethod
    def _finished(state: JobStatus, started: float, error: Exception | None) -> None:
        state.runs += 1
        state.last_duration_s = time.monotonic() - started
        state.last_ok = error is None
        if error is not None:
            state.failures += 1
            state.last_error = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
            state.last_error_at = datetime.now(UTC)

    async def run_now(self, job_id: str) -> JobStatus:
        """Run a registered job at once (an operator's request) under the same lease rule; return its status.

        Raises KeyError for an unknown job. When another process holds the lease the run is skipped (and
        counted as such), since two runs of one job must never overlap.
        """
        if job_id not in self._jobs:
            raise KeyError(job_id)
        await self._run(job_id)
        return replace(self._state[job_id])

    # ------------------------------------------------------------ status

    def status(self) -> list[JobStatus]:
        """Return each registered job's schedule, next run and last outcome, in registration order."""
        out = []
        for job_id, state in self._state.items():
            aps_job = self._scheduler.get_job(job_id) if self._scheduler is not None else None
            state.next_run_at = aps_job.next_run_time if aps_job is not None else None
            out.append(replace(state))
        return out
