"""The durable job queue and its worker on the SQL outbox (SQLite, PostgreSQL) and on Redis Streams."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.worker import ProcessorRegistry, Worker
from storage.config import QueueSettings, SQLSettings
from storage.queue import Job, NewJob, OutboxQueue, RetryLater, StreamQueue
from storage.sql import migrate
from storage.sql.engine import make_engine
from storage.sql.models import Job as JobRow
from storage.sql.models import utcnow
from tests.conftest import RedisProcess, fresh_postgres_db

# Short waits keep the tests quick; the lease stays long enough that a live worker never loses a job.
FAST = {
    "lease_s": 10.0,
    "backoff_base_s": 0.05,
    "backoff_cap_s": 0.2,
    "poll_interval_s": 0.1,
    "batch_max_wait_s": 0.01,
    "redrive_after_s": 1.0,
    "sweep_interval_s": 0.3,
    "stop_grace_s": 2.0,
}
DEADLINE_S = 30.0


@dataclass
class Env:
    """One queue backend under test, and a way to open more queues on it (as other processes would)."""

    backend: str
    engine: AsyncEngine
    redis: RedisProcess | None
    prefix: str = field(default_factory=lambda: f"kq{uuid.uuid4().hex[:6]}:")
    queues: list[OutboxQueue | StreamQueue] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)

    def queue(self, **overrides: Any) -> OutboxQueue | StreamQueue:
        settings = QueueSettings(**{**FAST, **overrides})
        outbox = OutboxQueue(self.engine, settings)
        made: OutboxQueue | StreamQueue = outbox
        if self.redis is not None:
            made = StreamQueue(
                outbox, self.redis.url, settings, key_prefix=self.prefix, reconnect_interval_s=0.2
            )
        self.queues.append(made)
        return made

    def worker(self, queue: OutboxQueue | StreamQueue, registry: ProcessorRegistry, name: str) -> Worker:
        worker = Worker(queue, registry, queue.settings, name=name)
        self.workers.append(worker)
        worker.start()
        return worker

    async def rows(self) -> list[JobRow]:
        async with self.engine.connect() as conn:
            result = await conn.execute(select(JobRow.__table__).order_by(JobRow.id))
            return [JobRow(**dict(r._mapping)) for r in result]


SQL_BACKENDS = ["sqlite", "postgres"]
REDIS_BACKENDS = ["redis+sqlite", "redis+postgres"]


async def _make_env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    redis = request.getfixturevalue("redis_process") if request.param.startswith("redis") else None
    backend = "redis" if redis is not None else "sql"
    if request.param.endswith("postgres"):
        async with fresh_postgres_db() as url:
            async for made in _env(backend, url, redis):
                yield made
    else:
        async for made in _env(backend, f"sqlite+aiosqlite:///{tmp_path / 'q.db'}", redis):
            yield made


@pytest.fixture(params=SQL_BACKENDS + REDIS_BACKENDS)
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    """Yield a migrated database, with a private Redis for the stream backends."""
    async for made in _make_env(request, tmp_path):
        yield made


@pytest.fixture(params=SQL_BACKENDS)
async def sql_env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    """Yield the SQL outbox alone, on SQLite and on PostgreSQL."""
    async for made in _make_env(request, tmp_path):
        yield made


@pytest.fixture(params=REDIS_BACKENDS)
async def redis_env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    """Yield Redis Streams over the outbox on SQLite and on PostgreSQL, with a Redis the test may restart."""
    async for made in _make_env(request, tmp_path):
        yield made


async def _env(backend: str, url: str, redis: RedisProcess | None) -> AsyncIterator[Env]:
    engine = make_engine(url, SQLSettings())
    await migrate.upgrade(engine)
    made = Env(backend, engine, redis)
    try:
        yield made
    finally:
        for worker in made.workers:
            await worker.stop(0)
        for queue in made.queues:
            await queue.close()
        await engine.dispose()


class Recorder:
    """A processor that records every run and can be told to fail."""

    def __init__(self, fail: Callable[[Job], BaseException | None] | None = None, delay_s: float = 0.0):
        self.runs: Counter[int] = Counter()
        self.batches: list[int] = []
        self.by_worker: Counter[str] = Counter()
        self.fail = fail
        self.delay_s = delay_s
        self.started = asyncio.Event()

    def handler(self, worker: str = "") -> Callable[[list[Job]], Awaitable[None]]:
        async def handle(jobs: list[Job]) -> None:
            self.started.set()
            self.batches.append(len(jobs))
            # Counted on starting, so a second run shows even while the first is still going.
            for job in jobs:
                self.runs[job.id] += 1
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            for job in jobs:
                error = self.fail(job) if self.fail else None
                if error is not None:
                    raise error
            self.by_worker[worker] += len(jobs)

        return handle

    def registry(self, *, batch: bool = False, worker: str = "") -> ProcessorRegistry:
        registry = ProcessorRegistry()
        registry.register("test", self.handler(worker), batch=batch)
        return registry


async def until(check: Callable[[], Awaitable[bool]], what: str, within_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def all_done(env: Env, count: int) -> bool:
    rows = await env.rows()
    return len(rows) == count and all(r.status == "done" for r in rows)


# ---------------------------------------------------------------- enqueue, claim, acknowledge


async def test_enqueued_job_is_claimed_with_its_payload(env: Env) -> None:
    queue = env.queue()
    assert await queue.enqueue("test", "k1", {"n": 1})
    jobs = await queue.claim("c1", 10, wait_s=1.0)
    assert [(j.job_type, j.key, j.payload) for j in jobs] == [("test", "k1", {"n": 1})]


async def test_completed_job_is_not_claimed_again(env: Env) -> None:
    queue = env.queue()
    await queue.enqueue("test", "k1", {})
    await queue.complete("c1", await queue.claim("c1", 10, wait_s=1.0))
    assert await queue.claim("c1", 10, wait_s=0.3) == []
    assert [r.status for r in await env.rows()] == ["done"]


async def test_duplicate_key_is_enqueued_once(env: Env) -> None:
    queue = env.queue()
    assert await queue.enqueue("test", "same", {"n": 1})
    assert not await queue.enqueue("test", "same", {"n": 2})
    assert len(await env.rows()) == 1


async def test_same_key_of_another_type_is_another_job(env: Env) -> None:
    queue = env.queue()
    await queue.enqueue("test", "same", {})
    assert await queue.enqueue("other", "same", {})


async def test_jobs_enqueued_together_are_each_claimed_once_and_known_keys_are_skipped(env: Env) -> None:
    queue = env.queue()
    assert await queue.enqueue("test", "old", {"n": 0})
    made = await queue.enqueue_many(
        [
            NewJob("test", "a", {"n": 1}),
            NewJob("test", "old", {"n": 9}),  # known before: not enqueued again, its payload unchanged
            NewJob("other", "a", {"n": 2}),  # the same key of another type is another job
            NewJob("test", "a", {"n": 3}),  # named twice in one call: one job, the first
            NewJob("test", "b", {"n": 4}, urgent=True),
        ],
        user_id=None,
    )
    assert made == [True, False, True, False, True]
    jobs = await queue.claim("c1", 10, wait_s=1.0)
    assert sorted((j.job_type, j.key, j.payload["n"], j.urgent) for j in jobs) == [
        ("other", "a", 2, False),
        ("test", "a", 1, False),
        ("test", "b", 4, True),
        ("test", "old", 0, False),
    ]
    assert await queue.enqueue_many([], user_id=None) == []


async def test_stats_show_depth_in_flight_and_throughput(env: Env) -> None:
    queue = env.queue()
    for i in range(3):
        await queue.enqueue("test", f"k{i}", {})
    claimed = await queue.claim("c1", 2, wait_s=1.0)
    await queue.complete("c1", claimed[:1])
    stats = await queue.stats()
    assert (stats.backend, stats.depth, stats.in_flight, stats.done_last_minute) == (env.backend, 1, 1, 1)
    assert stats.oldest_pending_age_s is not None


async def test_urgent_job_is_claimed_before_older_ones(sql_env: Env) -> None:
    # On Redis the stream delivers in order; there urgency only skips the batch wait.
    queue = sql_env.queue()
    await queue.enqueue("test", "old", {})
    await queue.enqueue("test", "urgent", {}, urgent=True)
    jobs = await queue.claim("c1", 1)
    assert [j.key for j in jobs] == ["urgent"]


# ---------------------------------------------------------------- failures


async def test_failed_job_waits_for_its_backoff(env: Env) -> None:
    queue = env.queue(backoff_base_s=60.0, backoff_cap_s=60.0)
    await queue.enqueue("test", "k", {})
    await queue.fail("c1", await queue.claim("c1", 10, wait_s=1.0), "ValueError")
    assert await queue.claim("c1", 10, wait_s=0.3) == []
    assert (await queue.stats()).retrying == 1


async def test_failing_job_is_retried_until_it_succeeds(env: Env) -> None:
    queue = env.queue()
    recorder = Recorder(fail=lambda job: ValueError("flaky") if recorder.runs[job.id] < 3 else None)
    env.worker(queue, recorder.registry(), "w1")
    await queue.enqueue("test", "k", {})
    await until(lambda: all_done(env, 1), "the job to succeed")
    (row,) = await env.rows()
    assert (sum(recorder.runs.values()), row.attempts) == (3, 2)


async def test_poison_job_goes_to_the_dead_letters_with_its_error(env: Env) -> None:
    queue = env.queue(max_attempts=3)
    recorder = Recorder(fail=lambda job: ValueError("the text of some message"))
    env.worker(queue, recorder.registry(), "w1")
    await queue.enqueue("test", "poison", {})
    await until(lambda: _stat(queue, "dead", 1), "the job to die")
    (dead,) = await queue.dead_letters()
    assert dead.attempts == 3 and sum(recorder.runs.values()) == 3
    assert dead.last_error is not None and dead.last_error.startswith("ValueError")
    assert "the text of some message" not in dead.last_error


async def test_retry_dead_re_drives_a_dead_job(env: Env) -> None:
    queue = env.queue(max_attempts=1)
    healed = False
    recorder = Recorder(fail=lambda job: None if healed else ValueError("poison"))
    env.worker(queue, recorder.registry(), "w1")
    await queue.enqueue("test", "poison", {})
    await until(lambda: _stat(queue, "dead", 1), "the job to die")
    healed = True
    assert await queue.retry_dead() == 1
    await until(lambda: all_done(env, 1), "the re-driven job to succeed")


async def test_outage_holds_jobs_back_without_dead_lettering_them(env: Env) -> None:
    queue = env.queue(max_attempts=2)
    recorder = Recorder(
        fail=lambda job: RetryLater("embeddings down") if recorder.runs[job.id] <= 4 else None
    )
    env.worker(queue, recorder.registry(), "w1")
    await queue.enqueue("test", "k", {})
    await until(lambda: all_done(env, 1), "the job to run once the outage ends")
    (row,) = await env.rows()
    assert (row.attempts, sum(recorder.runs.values())) == (0, 5)


async def test_one_poison_job_does_not_sink_its_batch(env: Env) -> None:
    queue = env.queue(max_attempts=1, batch_max_wait_s=0.5)
    recorder = Recorder(fail=lambda job: ValueError("poison") if job.key == "k3" else None)
    for i in range(6):
        await queue.enqueue("test", f"k{i}", {})
    env.worker(queue, recorder.registry(batch=True), "w1")
    expected = {(f"test:k{i}", "dead" if i == 3 else "done") for i in range(6)}

    async def settled() -> bool:
        # The poison job dies as soon as it fails alone; its batch-mates are acknowledged just after.
        return {(r.job_key, r.status) for r in await env.rows()} == expected

    await until(settled, "the poison job to die and the others to finish")


# ---------------------------------------------------------------- batching


async def test_batchable_jobs_run_together(env: Env) -> None:
    queue = env.queue(batch_max_wait_s=0.5, batch_max_size=64)
    for i in range(20):
        await queue.enqueue("test", f"k{i}", {})
    recorder = Recorder()
    env.worker(queue, recorder.registry(batch=True), "w1")
    await until(lambda: all_done(env, 20), "every job")
    assert len(recorder.batches) < 20


async def test_batch_never_exceeds_its_maximum_size(env: Env) -> None:
    queue = env.queue(batch_max_wait_s=0.5, batch_max_size=4)
    for i in range(10):
        await queue.enqueue("test", f"k{i}", {})
    recorder = Recorder()
    env.worker(queue, recorder.registry(batch=True), "w1")
    await until(lambda: all_done(env, 10), "every job")
    assert max(recorder.batches) <= 4


async def test_urgent_job_skips_the_batch_wait(env: Env) -> None:
    # A normal job would wait a minute for its batch to fill; an urgent one runs at once.
    queue = env.queue(batch_max_wait_s=60.0)
    recorder = Recorder()
    env.worker(queue, recorder.registry(batch=True), "w1")
    await queue.enqueue("test", "now", {}, urgent=True)
    await until(lambda: all_done(env, 1), "the urgent job", within_s=15.0)


# ---------------------------------------------------------------- several workers, dead workers


async def test_expired_lease_hands_a_dead_consumers_job_to_another(env: Env) -> None:
    queue = env.queue(lease_s=1.0)
    await queue.enqueue("test", "k", {})
    (taken,) = await queue.claim("dead-consumer", 10, wait_s=1.0)
    other = env.queue(lease_s=1.0)
    got: list[Job] = []

    async def taken_over() -> bool:
        got.extend(await other.claim("live-consumer", 10, wait_s=0.2))
        return bool(got)

    await until(taken_over, "another consumer to take the job over")
    assert [j.id for j in got] == [taken.id]
    if env.backend == "redis":
        assert got[0].receipts  # delivered by XAUTOCLAIM, not by SQL


async def test_two_workers_share_the_work_and_run_no_job_twice(env: Env) -> None:
    recorder = Recorder(delay_s=0.005)
    for name in ("w1", "w2"):
        env.worker(env.queue(batch_max_size=8), recorder.registry(worker=name), name)
    queue = env.queue()
    for i in range(150):
        await queue.enqueue("test", f"k{i}", {})
    await until(lambda: all_done(env, 150), "every job")
    assert set(recorder.runs.values()) == {1} and len(recorder.runs) == 150
    assert recorder.by_worker["w1"] > 0 and recorder.by_worker["w2"] > 0


async def test_live_workers_long_job_keeps_its_lease(env: Env) -> None:
    # The job runs three leases long; the heartbeat must keep the second worker from taking it over.
    recorder = Recorder(delay_s=3.0)
    for name in ("w1", "w2"):
        env.worker(env.queue(lease_s=1.0), recorder.registry(worker=name), name)
    await env.queue().enqueue("test", "long", {})
    await until(lambda: all_done(env, 1), "the long job")
    assert list(recorder.runs.values()) == [1]


async def test_stale_delivery_of_a_finished_job_is_acknowledged_and_skipped(redis_env: Env) -> None:
    queue = redis_env.queue()
    assert isinstance(queue, StreamQueue)
    await queue.enqueue("test", "k", {})
    (job,) = await queue.claim("c1", 10, wait_s=1.0)
    await queue.complete("c1", [job])
    await queue.redrive_stuck(older_than_s=0.0)  # nothing pending, so nothing is sent again
    await queue._dispatch([job.id])  # a duplicate, as a redrive racing a worker would send
    assert await queue.claim("c1", 10, wait_s=0.5) == []
    assert (await queue.stats()).extra["stream_pending"] == 0


async def test_a_sweep_of_more_pending_jobs_than_one_page_takes_each_once(redis_env: Env) -> None:
    # After a Redis outage the stream re-sends every pending job (older_than_s=0), a page at a time. The
    # page used to pick the same rows again for ever once more jobs waited than one page holds.
    queue = redis_env.queue()
    assert isinstance(queue, StreamQueue)
    for i in range(5):
        await queue.enqueue("test", f"k{i}", {})
    now = utcnow() + timedelta(seconds=1)
    pages = [await queue.outbox.stale_pending(now, 0.0, limit=2) for _ in range(4)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert len({i for p in pages for i in p}) == 5
    swept = await asyncio.wait_for(queue.redrive_stuck(utcnow() + timedelta(seconds=2), older_than_s=0.0), 30)
    assert swept == 5


async def test_redrive_stuck_releases_an_expired_lease(env: Env) -> None:
    queue = env.queue(lease_s=5.0)
    await queue.enqueue("test", "k", {})
    await queue.claim("dead-consumer", 10, wait_s=1.0)
    assert await queue.redrive_stuck(utcnow() + timedelta(seconds=10)) == 1
    (row,) = await env.rows()
    assert (row.status, row.locked_by, row.attempts) == ("pending", None, 0)


async def test_finished_jobs_are_pruned_after_the_retention(env: Env) -> None:
    queue = env.queue(done_retention_s=60.0)
    await queue.enqueue("test", "k", {})
    await queue.complete("c1", await queue.claim("c1", 10, wait_s=1.0))
    assert await queue.prune_done(utcnow()) == 0
    assert await queue.prune_done(utcnow() + timedelta(seconds=120)) == 1


async def test_purge_user_removes_only_that_persons_jobs(env: Env) -> None:
    queue = env.queue()
    async with env.engine.begin() as conn:
        for uid in (1, 2):
            await conn.execute(
                text(
                    "INSERT INTO users (id, platform, external_id, settings, created_at) "
                    "VALUES (:id, 'discord', :ext, '{}', CURRENT_TIMESTAMP)"
                ),
                {"id": uid, "ext": str(uid)},
            )
    await queue.enqueue("test", "a", {}, user_id=1)
    await queue.enqueue("test", "b", {}, user_id=2)
    assert await queue.purge_user(1) == 1
    assert [r.job_key for r in await env.rows()] == ["test:b"]


# ---------------------------------------------------------------- stopping


async def test_graceful_stop_hands_back_an_in_flight_job(env: Env) -> None:
    queue = env.queue()
    recorder = Recorder(delay_s=3600)
    worker = env.worker(queue, recorder.registry(), "w1")
    await queue.enqueue("test", "k", {})
    await asyncio.wait_for(recorder.started.wait(), DEADLINE_S)
    await worker.stop(grace_s=0.1)
    (row,) = await env.rows()
    assert (row.status, row.locked_by, row.attempts) == ("pending", None, 0)
    other = env.queue()
    got: list[Job] = []

    async def claimed() -> bool:
        got.extend(await other.claim("next", 10, wait_s=0.2))
        return bool(got)

    await until(claimed, "another worker to get the handed-back job")


async def test_graceful_stop_lets_a_short_job_finish(env: Env) -> None:
    queue = env.queue()
    recorder = Recorder(delay_s=0.3)
    worker = env.worker(queue, recorder.registry(), "w1")
    await queue.enqueue("test", "k", {})
    await asyncio.wait_for(recorder.started.wait(), DEADLINE_S)
    await worker.stop(grace_s=20.0)
    assert [r.status for r in await env.rows()] == ["done"]


# ---------------------------------------------------------------- running several at once


class Overlaps:
    """A processor that records which jobs were running at the same time, per person in the payload."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.running: set[int] = set()
        self.most_at_once = 0
        self.order: list[tuple[str, int]] = []
        self.overlapping_one_person: list[tuple[int, int]] = []
        self.started = asyncio.Event()

    def registry(self) -> ProcessorRegistry:
        registry = ProcessorRegistry()

        async def handle(jobs: list[Job]) -> None:
            (job,) = jobs
            person = job.payload["scope"]["user_id"]
            self.started.set()
            same = [other for other in self.running if self.person.get(other) == person]
            self.overlapping_one_person += [(other, job.id) for other in same]
            self.person[job.id] = person
            self.running.add(job.id)
            self.most_at_once = max(self.most_at_once, len(self.running))
            self.order.append((person, job.id))
            try:
                await asyncio.sleep(self.delay_s)
            finally:
                self.running.discard(job.id)

        self.person: dict[int, str] = {}
        registry.register("test", handle)
        return registry


def person_job(user_id: str) -> dict[str, Any]:
    return {"scope": {"user_id": user_id, "platform": "discord"}}


async def test_different_peoples_jobs_run_at_once_and_one_persons_in_order(sql_env: Env) -> None:
    queue = sql_env.queue(concurrency=8)
    for key, person in [("a1", "alice"), ("b1", "bob"), ("a2", "alice"), ("c1", "carol"), ("a3", "alice")]:
        await queue.enqueue("test", key, person_job(person))
    overlaps = Overlaps(delay_s=0.4)
    sql_env.worker(queue, overlaps.registry(), "w1")

    await until(lambda: all_done(sql_env, 5), "all five jobs done")

    assert overlaps.most_at_once == 3  # Alice, Bob and Carol at once
    assert overlaps.overlapping_one_person == []
    alices = [job_id for person, job_id in overlaps.order if person == "alice"]
    assert alices == sorted(alices)  # in the order they were enqueued


async def test_concurrency_one_runs_one_job_at_a_time(sql_env: Env) -> None:
    queue = sql_env.queue(concurrency=1)
    for person in ("alice", "bob", "carol"):
        await queue.enqueue("test", person, person_job(person))
    overlaps = Overlaps(delay_s=0.1)
    sql_env.worker(queue, overlaps.registry(), "w1")

    await until(lambda: all_done(sql_env, 3), "all three jobs done")

    assert overlaps.most_at_once == 1


async def test_stop_hands_back_the_running_jobs_and_those_not_started(sql_env: Env) -> None:
    queue = sql_env.queue(concurrency=2)
    for person in ("alice", "bob", "carol", "dave"):
        await queue.enqueue("test", person, person_job(person))
    overlaps = Overlaps(delay_s=3600)
    worker = sql_env.worker(queue, overlaps.registry(), "w1")
    await asyncio.wait_for(overlaps.started.wait(), DEADLINE_S)

    await worker.stop(grace_s=0.1)

    assert overlaps.most_at_once == 2
    rows = await sql_env.rows()
    assert [(r.status, r.locked_by, r.attempts) for r in rows] == [("pending", None, 0)] * 4


# ---------------------------------------------------------------- Redis outages


async def test_job_enqueued_while_redis_is_down_still_runs(redis_env: Env) -> None:
    env = redis_env
    assert env.redis is not None
    queue = env.queue()
    recorder = Recorder()
    env.worker(queue, recorder.registry(), "w1")
    env.redis.stop()
    assert await queue.enqueue("test", "k", {})
    await until(lambda: all_done(env, 1), "the job to run from SQL")


async def test_redis_restart_mid_run_runs_every_job_exactly_once(redis_env: Env) -> None:
    env = redis_env
    assert env.redis is not None
    recorder = Recorder(delay_s=0.002)
    for name in ("w1", "w2"):
        env.worker(env.queue(batch_max_size=8), recorder.registry(worker=name), name)
    queue = env.queue()
    for i in range(100):
        await queue.enqueue("test", f"a{i}", {})
    await until(lambda: _done_at_least(env, 20), "some jobs to run")
    env.redis.stop()
    for i in range(50):
        await queue.enqueue("test", f"b{i}", {})
    env.redis.start()
    for i in range(50):
        await queue.enqueue("test", f"c{i}", {})
    await until(lambda: all_done(env, 200), "every job after the restart")
    assert len(recorder.runs) == 200 and set(recorder.runs.values()) == {1}


async def _stat(queue: OutboxQueue | StreamQueue, name: str, value: int) -> bool:
    return bool(getattr(await queue.stats(), name) == value)


async def _done_at_least(env: Env, count: int) -> bool:
    return sum(r.status == "done" for r in await env.rows()) >= count


class SwallowsCancel:
    """A queue whose claim turns a cancellation into an error, as redis-py's blocking read can."""

    def __init__(self, inner: OutboxQueue | StreamQueue) -> None:
        self.inner = inner
        self.claims = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def claim(self, consumer: str, limit: int, wait_s: float = 0.0) -> list[Job]:
        self.claims += 1
        try:
            await asyncio.sleep(max(wait_s, 0.05))
        except asyncio.CancelledError:
            raise ConnectionError("the read was cancelled") from None  # the caller sees an outage instead
        return []


async def test_a_cancelled_worker_ends_even_when_its_claim_swallowed_the_cancellation(sql_env: Env) -> None:
    queue = SwallowsCancel(sql_env.queue(poll_interval_s=0.05))
    worker = Worker(queue, Recorder().registry(), queue.settings, name="crashing")  # type: ignore[arg-type]
    task = worker.start()

    async def claiming() -> bool:
        return queue.claims > 0

    await until(claiming, "the worker to claim")
    task.cancel()  # a crash, as the zero-loss test makes one: no grace, nothing handed back
    await asyncio.wait({task}, timeout=10)  # not wait_for: it would cancel again and wait for that too
    if not task.done():
        await worker.stop(grace_s=0)  # the stop flag still ends it
        pytest.fail("the cancelled worker was still running after 10 s")
    assert task.cancelled()
