"""The reflection worker: claims jobs from the queue, runs each type's processor, and settles the outcome.

Features register a processor per job type. A batchable type's jobs are gathered until ``batch_max_size``
jobs or ``batch_max_wait_s`` seconds (an urgent job flushes its batch at once), so one embedding call
serves many jobs. A job is acknowledged only after its processor returned. A batch that fails is re-run
job by job, so one poison job cannot sink the others; ``RetryLater`` (a dependency is down) holds the
jobs back with a growing delay and never dead-letters them.

``stop(grace_s)`` stops claiming, lets the running batch finish within the grace period and otherwise
hands it back. Cancelling ``run()`` instead is a crash: nothing is handed back, and the leases lapse.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from bot import metrics
from bot.errors import EXIT_OK
from storage.config import QueueSettings
from storage.queue import DeadJob, Job, JobQueue, QueueStats, RetryLater, backoff_s, describe_error
from storage.sql.engine import is_unavailable

if TYPE_CHECKING:
    from storage.config import StorageSettings
    from storage.service import StorageService

log = logging.getLogger(__name__)

Handler = Callable[[list[Job]], Awaitable[None]]

# A worker whose queue keeps failing waits at most this long between tries.
MAX_CLAIM_BACKOFF_S = 30.0


@dataclass(frozen=True, slots=True)
class Processor:
    """How one job type is run: ``handler`` gets a list of jobs (one job unless ``batch``)."""

    job_type: str
    handler: Handler
    batch: bool = False


class ProcessorRegistry:
    """Processors by job type; features register theirs at startup."""

    def __init__(self) -> None:
        self._processors: dict[str, Processor] = {}

    def register(self, job_type: str, handler: Handler, *, batch: bool = False) -> None:
        """Run ``handler`` for jobs of ``job_type``; ``batch`` lets it receive many jobs in one call."""
        if job_type in self._processors:
            raise ValueError(f"a processor for job type {job_type!r} is already registered")
        self._processors[job_type] = Processor(job_type, handler, batch)

    def get(self, job_type: str) -> Processor | None:
        """Return the processor of ``job_type``, if one is registered."""
        return self._processors.get(job_type)

    @property
    def job_types(self) -> list[str]:
        """Return the registered job types."""
        return sorted(self._processors)


def _raise_if_cancel_was_swallowed() -> None:
    """Raise CancelledError if this task was asked to stop but a call below it turned that into an error.

    redis-py's blocking read (XREADGROUP) can end a cancellation as its own TimeoutError, which the claim
    loop handles as "Redis is down" and carries on: the task never ended, and whoever awaited it (a crash
    in the zero-loss test, a shutdown) waited for ever. The request is still counted on the task.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        raise asyncio.CancelledError


@dataclass(slots=True)
class WorkerCounters:
    """What this worker did since it started."""

    completed: int = 0
    failed: int = 0
    held_back: int = 0
    handed_back: int = 0
    batches: int = 0


@dataclass(slots=True)
class _Buffer:
    jobs: list[Job] = field(default_factory=list)
    since: float = 0.0


def _lane(batch: list[Job], registry: ProcessorRegistry) -> str:
    """Return what a batch must run in order with: its person's other jobs, or its batched type's batches."""
    job = batch[0]
    processor = registry.get(job.job_type)
    if processor is not None and processor.batch:
        return f"batch:{job.job_type}"
    scope = job.payload.get("scope") if isinstance(job.payload, dict) else None
    if isinstance(scope, dict) and scope.get("user_id") is not None:
        return f"person:{scope.get('platform', 'discord')}:{scope['user_id']}"
    return f"job:{job.id}"


def worker_name() -> str:
    """Return a consumer name unique to this worker instance."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


class Worker:
    """Runs queued jobs through the registered processors until stopped."""

    def __init__(
        self,
        queue: JobQueue,
        registry: ProcessorRegistry,
        settings: QueueSettings,
        *,
        name: str | None = None,
    ) -> None:
        self.queue = queue
        self.registry = registry
        self.settings = settings
        self.name = name or worker_name()
        self.counters = WorkerCounters()
        self._stop = asyncio.Event()
        self._done = asyncio.Event()
        self._running = False
        self._grace = settings.stop_grace_s
        self._buffers: dict[str, _Buffer] = {}
        # The batches running now, by id: several run at once (``queue.concurrency``).
        self._inflight: dict[int, list[Job]] = {}
        self._waiting: list[Job] = []
        # Consecutive RetryLater per job type: the hold-back grows while a dependency stays down.
        self._outages: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> asyncio.Task[None]:
        """Run the worker in a background task (the in-process mode) and return the task."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name=f"kindred-worker-{self.name}"
            )
        return self._task

    async def run(self) -> None:
        """Claim and run jobs until ``stop()`` (a stopped worker stays stopped; make a new one)."""
        if self._running:
            raise RuntimeError("this worker is already running")
        self._running = True
        self._done.clear()
        helpers = [
            asyncio.create_task(self._heartbeat_loop(), name=f"kindred-worker-heartbeat-{self.name}"),
            asyncio.create_task(self._maintenance_loop(), name=f"kindred-worker-sweep-{self.name}"),
        ]
        log.info("worker %s started (queue %s)", self.name, self.queue.backend)
        try:
            await self._loop()
            # Claimed but never started: hand back at once so another worker need not wait for the lease.
            waiting = self._take_buffered()
            if waiting:
                await self._settle(self.queue.release(self.name, waiting), "hand back")
                self.counters.handed_back += len(waiting)
            log.info("worker %s stopped", self.name)
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self._running = False
            self._done.set()

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop claiming; let the running batch finish within ``grace_s``, else hand it back."""
        self._grace = self.settings.stop_grace_s if grace_s is None else grace_s
        self._stop.set()
        if self._running:
            await self._done.wait()
        elif self._task is not None and self._task is not asyncio.current_task():
            # Started but not yet running: it sees the stop at once and ends.
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def held(self) -> list[Job]:
        """Return the jobs this worker holds a lease on (running or waiting to run)."""
        running = (j for batch in self._inflight.values() for j in batch)
        return [*running, *self._waiting, *(j for b in self._buffers.values() for j in b.jobs)]

    # ------------------------------------------------------------ the loop

    async def _loop(self) -> None:
        failures = 0
        max_size = self.settings.batch_max_size
        while not self._stop.is_set():
            _raise_if_cancel_was_swallowed()
            room = max_size - sum(len(b.jobs) for b in self._buffers.values())
            wait = self.settings.poll_interval_s
            if any(b.jobs for b in self._buffers.values()):
                # A batch is filling: top it up once when it is due rather than claim at every new job,
                # which would cost the database a write per job.
                await self._sleep(self._until_due())
                wait = 0.0
            jobs: list[Job] = []
            if room > 0 and not self._stop.is_set():
                try:
                    jobs = await self.queue.claim(self.name, room, wait)
                    failures = 0
                except Exception as exc:
                    failures += 1
                    pause = min(MAX_CLAIM_BACKOFF_S, self.settings.poll_interval_s * 2 ** min(failures, 6))
                    if failures == 1:
                        log.warning(
                            "claiming jobs failed (%s); retrying every few seconds", describe_error(exc)
                        )
                    await self._sleep(pause * random.uniform(0.8, 1.2))
                    continue
            now = time.monotonic()
            for job in jobs:
                buffer = self._buffers.setdefault(job.job_type, _Buffer(since=now))
                if not buffer.jobs:
                    buffer.since = now
                buffer.jobs.append(job)
            if self._stop.is_set():
                return
            await self._run_due(self._due_batches(now, full=room <= 0))
            if self._stop.is_set():
                return

    async def _run_due(self, due: list[list[Job]]) -> None:
        """Run the due batches, up to ``queue.concurrency`` at once, and return when all have run.

        A reflection job spends most of its time waiting for the model, so one at a time capped reflection
        at about one turn a second. One person's jobs still run one after another, in order (two of their
        facts are never weighed against each other at the same moment), and so do one batched type's batches.
        Batches not started yet keep their leases renewed, and are handed back on stop.
        """
        lanes: dict[str, list[list[Job]]] = {}
        for batch in due:
            lanes.setdefault(_lane(batch, self.registry), []).append(batch)
        self._waiting = [j for batch in due for j in batch]
        slots = asyncio.Semaphore(self.settings.concurrency)

        async def run_lane(batches: list[list[Job]]) -> None:
            for batch in batches:
                async with slots:
                    if self._stop.is_set():
                        return
                    started = {id(job) for job in batch}
                    self._waiting = [j for j in self._waiting if id(j) not in started]
                    await self._run_batch(batch)

        # A task group: a crash in one lane cancels the others, as it ended the single loop before.
        async with asyncio.TaskGroup() as group:
            for batches in lanes.values():
                group.create_task(run_lane(batches))

    def _until_due(self) -> float:
        """Return the seconds until the oldest filling batch is due (0 when one is due or urgent)."""
        waits = [
            0.0
            if any(j.urgent for j in b.jobs)
            else b.since + self.settings.batch_max_wait_s - time.monotonic()
            for b in self._buffers.values()
            if b.jobs
        ]
        return max(0.0, min(waits, default=0.0))

    def _due_batches(self, now: float, *, full: bool) -> list[list[Job]]:
        max_size = self.settings.batch_max_size
        due: list[list[Job]] = []
        for job_type, buffer in list(self._buffers.items()):
            if not buffer.jobs:
                continue
            processor = self.registry.get(job_type)
            if processor is None or not processor.batch:
                due += [[job] for job in buffer.jobs]
                buffer.jobs = []
                continue
            ready = (
                full
                or len(buffer.jobs) >= max_size
                or any(j.urgent for j in buffer.jobs)
                or now - buffer.since >= self.settings.batch_max_wait_s
            )
            if ready:
                due += [buffer.jobs[i : i + max_size] for i in range(0, len(buffer.jobs), max_size)]
                buffer.jobs = []
        # Urgent work first.
        due.sort(key=lambda batch: not any(j.urgent for j in batch))
        return due

    def _take_buffered(self) -> list[Job]:
        jobs = [*self._waiting, *(j for b in self._buffers.values() for j in b.jobs)]
        self._buffers.clear()
        self._waiting = []
        return jobs

    async def _run_batch(self, jobs: list[Job]) -> None:
        self._inflight[id(jobs)] = jobs
        task = asyncio.create_task(self._execute(jobs))
        try:
            stopping = asyncio.create_task(self._stop.wait())
            try:
                await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
            if not task.done():
                done, _ = await asyncio.wait({task}, timeout=self._grace)
                if not done:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    log.warning(
                        "worker %s: %s running jobs did not finish within %.1fs; handing them back",
                        self.name,
                        len(jobs),
                        self._grace,
                    )
                    await self._settle(self.queue.release(self.name, jobs), "hand back")
                    self.counters.handed_back += len(jobs)
                    return
            await task
        except asyncio.CancelledError:
            # A crash, not a stop: the job is abandoned and its lease will lapse.
            task.cancel()
            raise
        finally:
            self._inflight.pop(id(jobs), None)

    async def _execute(self, jobs: list[Job]) -> None:
        job_type = jobs[0].job_type
        processor = self.registry.get(job_type)
        self.counters.batches += 1
        if processor is None:
            await self._fail(jobs, f"no processor is registered for job type {job_type!r}")
            return
        started = time.perf_counter()
        try:
            await processor.handler(list(jobs))
        except RetryLater as exc:
            await self._hold_back(job_type, jobs, exc)
            return
        except Exception as exc:
            if is_unavailable(exc):
                # The database went away under the job (a restart): an outage, not the job's fault.
                # describe_error names the error only: its text may quote the SQL and the person's words.
                reason = RetryLater(f"the database is unreachable ({describe_error(exc)})")
                await self._hold_back(job_type, jobs, reason)
                return
            if len(jobs) == 1:
                await self._fail(jobs, describe_error(exc), exc)
            else:
                log.info("a batch of %s %s jobs failed; running them one by one", len(jobs), job_type)
                await self._isolate(processor, jobs)
            return
        metrics.JOB_DURATION.labels(job_type).observe(time.perf_counter() - started)
        self._outages.pop(job_type, None)
        await self._complete(jobs)

    async def _isolate(self, processor: Processor, jobs: list[Job]) -> None:
        succeeded: list[Job] = []
        for index, job in enumerate(jobs):
            try:
                await processor.handler([job])
            except RetryLater as exc:
                await self._hold_back(job.job_type, jobs[index:], exc)
                break
            except Exception as exc:
                await self._fail([job], describe_error(exc), exc)
            else:
                succeeded.append(job)
        await self._complete(succeeded)

    # ------------------------------------------------------------ outcomes

    async def _complete(self, jobs: list[Job]) -> None:
        if jobs and await self._settle(self.queue.complete(self.name, jobs), "acknowledge"):
            self.counters.completed += len(jobs)

    async def _fail(self, jobs: list[Job], error: str, exc: BaseException | None = None) -> None:
        # The traceback goes to the log at DEBUG only: it may hold the text the job was working on.
        log.warning("job %s (%s) failed: %s", jobs[0].id, jobs[0].job_type, error)
        metrics.JOB_FAILURES.labels(jobs[0].job_type).inc(len(jobs))
        if exc is not None:
            log.debug("job %s failure", jobs[0].id, exc_info=exc)
        if await self._settle(self.queue.fail(self.name, jobs, error), "record a failure"):
            self.counters.failed += len(jobs)

    async def _hold_back(self, job_type: str, jobs: list[Job], exc: RetryLater) -> None:
        streak = self._outages.get(job_type, 0) + 1
        self._outages[job_type] = streak
        delay = backoff_s(streak, self.settings.backoff_base_s, self.settings.backoff_cap_s)
        log.warning("%s %s jobs held back %.1fs: %s", len(jobs), job_type, delay, exc)
        error = describe_error(exc)
        if await self._settle(self.queue.release(self.name, jobs, delay_s=delay, error=error), "hold back"):
            self.counters.held_back += len(jobs)

    async def _settle(self, outcome: Awaitable[None], what: str) -> bool:
        try:
            await outcome
        except Exception as exc:
            # The job keeps its lease until it lapses; then it runs again, which processors tolerate.
            log.warning("worker %s could not %s jobs: %s", self.name, what, describe_error(exc))
            return False
        return True

    # ------------------------------------------------------------ background duties

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _heartbeat_loop(self) -> None:
        # Renewing well inside the lease keeps a slow batch from being taken over while it still runs.
        interval = self.settings.lease_s / 3
        while True:
            await asyncio.sleep(interval)
            held = self.held
            if held:
                await self._settle(self.queue.extend(self.name, held), "renew the lease on")

    async def _maintenance_loop(self) -> None:
        # Every worker sweeps; jitter keeps several workers from sweeping in the same instant.
        interval = self.settings.sweep_interval_s
        await asyncio.sleep(random.uniform(0, min(interval, 1.0)))
        while True:
            await self.sweep()
            await asyncio.sleep(interval * random.uniform(0.8, 1.2))

    async def sweep(self) -> None:
        """Re-drive stuck jobs and prune finished ones (also the scheduler's reflection sweep)."""
        try:
            await self.queue.redrive_stuck()
            await self.queue.prune_done()
        except Exception as exc:
            log.warning("job sweep failed: %s", describe_error(exc))


async def serve(
    settings: StorageSettings, registry_for: Callable[[StorageService], ProcessorRegistry]
) -> int:
    """Run one worker alone until SIGTERM or SIGINT (``kindred worker``); return the exit code.

    ``registry_for`` builds the processors from the opened storage: the same set the bot registers.
    """
    from storage.service import StorageService

    storage = await StorageService.open(settings)
    try:
        worker = Worker(storage.jobs, registry_for(storage), settings.queue)
        loop = asyncio.get_running_loop()
        stopping: list[asyncio.Task[None]] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: stopping.append(loop.create_task(worker.stop())))
        await worker.run()
        await asyncio.gather(*stopping, return_exceptions=True)
    finally:
        await storage.close()
    return EXIT_OK


async def queue_status(
    settings: StorageSettings, action: str, *, as_json: bool = False, job_type: str | None = None
) -> int:
    """Print the queue's state (``status``) or re-drive its dead letters (``retry-dead``)."""
    from storage.queue import make_queue
    from storage.service import SchemaOutdated
    from storage.sql import migrate
    from storage.sql.engine import make_engine, wait_until_ready

    # Only SQL (and Redis) are needed: no embedding model or vector index is loaded for this.
    engine = make_engine(settings.sql_url(), settings.sql)
    queue = make_queue(settings, engine)
    try:
        await wait_until_ready(engine, settings.sql.connect_retries, settings.sql.connect_retry_delay_s)
        revision, head = await migrate.current_revision(engine), migrate.head_revision()
        if revision != head:
            raise SchemaOutdated(
                f"the database schema is at {revision or 'nothing'} but this Kindred needs {head}; "
                "run `kindred migrate`"
            )
        if action == "retry-dead":
            count = await queue.retry_dead(job_type)
            print(json.dumps({"redriven": count}) if as_json else f"re-drove {count} dead jobs")
            return EXIT_OK
        stats = await queue.stats()
        dead = await queue.dead_letters(10)
    finally:
        await queue.close()
        await engine.dispose()
    if as_json:
        body = {**asdict(stats), "dead_letters": [{**asdict(d)} for d in dead]}
        print(json.dumps(body, indent=2, default=str))
    else:
        print(render_status(stats, dead))
    return EXIT_OK


def render_status(stats: QueueStats, dead: list[DeadJob]) -> str:
    """Return the queue's state as a small table, then the newest dead letters with their errors."""
    age = stats.oldest_pending_age_s
    rows = [
        ("backend", stats.backend),
        ("depth", str(stats.depth)),
        ("ready", str(stats.ready)),
        ("in flight", str(stats.in_flight)),
        ("retrying", str(stats.retrying)),
        ("dead", str(stats.dead)),
        ("done last minute", str(stats.done_last_minute)),
        ("done last hour", str(stats.done_last_hour)),
        ("oldest pending", "-" if age is None else f"{age:.1f}s"),
        *((key.replace("_", " "), str(value)) for key, value in stats.extra.items()),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{key:<{width}}  {value}" for key, value in rows]
    if dead:
        lines += ["", "newest dead letters:"]
        lines += [f"  #{d.id} {d.job_type} {d.key} after {d.attempts} attempts: {d.last_error}" for d in dead]
    return "\n".join(lines)
