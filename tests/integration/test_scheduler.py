"""The scheduler: the leader lease on SQL (SQLite, PostgreSQL) and Redis, leader-only runs, and the jobs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import SchedulerSettings
from bot.scheduler import (
    COMPRESSION,
    CRYSTAL_FORMATION,
    CacheLease,
    KindredScheduler,
    Lease,
    ScheduledJob,
    SqlLease,
    cache_cleanup,
    compression_job,
    crystal_formation_job,
    default_jobs,
    make_lease,
    reflection_sweep,
)
from storage.cache import InProcessCache
from storage.config import CacheSettings, SQLSettings, StorageSettings
from storage.scope import Scope
from storage.service import StorageService
from tests.conftest import REDIS_HOST, REDIS_PORT, RedisProcess, fresh_postgres_db, require_service

ALICE = Scope(user_id="100", guild_id="1", channel_id="10")
BOB = Scope(user_id="200", guild_id="1", channel_id="10")
IDLE_S = 1800.0
LONG_AGO = timedelta(hours=2)
# Jobs fire this often in tests, so a few runs take well under a second.
TICK_S = 0.2


async def wait_until(condition: Callable[[], bool], deadline_s: float = 20.0) -> None:
    """Poll ``condition`` until it holds, failing the test after a generous deadline."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_s
    while not condition():
        if loop.time() > give_up:
            pytest.fail(f"condition did not hold within {deadline_s}s")
        await asyncio.sleep(0.02)


async def open_storage(tmp_path: Path, sql_url: str, cache: CacheSettings | None = None) -> StorageService:
    settings = StorageSettings(
        data_dir=tmp_path / "data",
        sql=SQLSettings(url=sql_url, connect_retries=0),
        cache=cache or CacheSettings(),
    )
    return await StorageService.open(settings)


@asynccontextmanager
async def storage_on_redis(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> AsyncIterator[StorageService]:
    """Open storage on SQLite with the Redis cache, so its leases live in Redis; clean its keys up after."""
    service = await open_storage(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
        CacheSettings(backend="redis", redis_url=redis_url, key_prefix=redis_prefix),
    )
    try:
        yield service
    finally:
        await service.cache.delete_prefix("")
        await service.close()


@pytest.fixture
async def redis_storage(tmp_path: Path, redis_url: str, redis_prefix: str) -> AsyncIterator[StorageService]:
    """Yield storage whose cache, and so whose leases, are in Redis."""
    async with storage_on_redis(tmp_path, redis_url, redis_prefix) as service:
        yield service


@pytest.fixture(params=["sqlite", "postgres", "redis"])
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, redis_prefix: str
) -> AsyncIterator[StorageService]:
    """Yield storage whose lease lives in SQLite, in PostgreSQL, or (with the Redis cache) in Redis."""
    if request.param == "redis":
        require_service("Redis", REDIS_HOST, REDIS_PORT)
        async with storage_on_redis(
            tmp_path, f"redis://{REDIS_HOST}:{REDIS_PORT}/0", redis_prefix
        ) as service:
            yield service
        return
    if request.param == "sqlite":
        service = await open_storage(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
        yield service
        await service.close()
        return
    async with fresh_postgres_db() as url:
        service = await open_storage(tmp_path, url)
        try:
            yield service
        finally:
            await service.close()


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[StorageService]:
    """Yield embedded storage (SQLite, in-process cache), for tests that do not depend on the backend."""
    service = await open_storage(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    yield service
    await service.close()


@pytest.fixture
def lease_name() -> str:
    """Return a lease name unique to this test."""
    return f"test-{uuid.uuid4().hex[:8]}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- the lease


def test_lease_store_follows_the_cache_backend(storage: StorageService, lease_name: str) -> None:
    expected = CacheLease if storage.settings.cache.backend == "redis" else SqlLease
    assert isinstance(make_lease(storage, lease_name, 30), expected)


async def test_only_one_contender_holds_the_lease(storage: StorageService, lease_name: str) -> None:
    first, second = make_lease(storage, lease_name, 30), make_lease(storage, lease_name, 30)
    assert await first.acquire()
    assert not await second.acquire()
    assert (first.held, second.held) == (True, False)


async def test_concurrent_contenders_never_both_win(storage: StorageService) -> None:
    for round_ in range(10):
        contenders = [make_lease(storage, f"race-{round_}", 30) for _ in range(3)]
        won = await asyncio.gather(*(lease.acquire() for lease in contenders))
        assert sorted(won) == [False, False, True]


async def test_contenders_for_an_expired_lease_never_both_win(
    storage: StorageService, lease_name: str
) -> None:
    assert await make_lease(storage, lease_name, 0.2).acquire()
    first, second = make_lease(storage, lease_name, 30), make_lease(storage, lease_name, 30)
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 20
    won: list[bool] = [False, False]
    while not any(won) and loop.time() < give_up:
        won = list(await asyncio.gather(first.acquire(), second.acquire()))
    assert sorted(won) == [False, True]


async def test_holder_renews_its_own_lease(storage: StorageService, lease_name: str) -> None:
    holder, other = make_lease(storage, lease_name, 30), make_lease(storage, lease_name, 30)
    await holder.acquire()
    assert await holder.acquire()
    assert not await other.acquire()


async def test_another_contender_takes_over_once_the_holder_stops_renewing(
    storage: StorageService, lease_name: str
) -> None:
    holder, other = make_lease(storage, lease_name, 1.0), make_lease(storage, lease_name, 1.0)
    assert await holder.acquire()
    assert not await other.acquire()
    taken = False

    async def try_other() -> None:
        nonlocal taken
        taken = await other.acquire()

    loop = asyncio.get_running_loop()
    give_up = loop.time() + 20
    while not taken and loop.time() < give_up:
        await try_other()
        await asyncio.sleep(0.05)
    assert taken
    # The old holder gave itself up no later than the store let the new one in.
    assert not holder.held


async def test_released_lease_is_free_at_once(storage: StorageService, lease_name: str) -> None:
    holder, other = make_lease(storage, lease_name, 30), make_lease(storage, lease_name, 30)
    await holder.acquire()
    await holder.release()
    assert not holder.held
    assert await other.acquire()


async def test_holder_stops_counting_itself_leader_when_its_ttl_passes(
    embedded: StorageService, lease_name: str
) -> None:
    clock = FakeClock()
    lease = SqlLease(embedded, lease_name, 30, clock=clock)
    await lease.acquire()
    clock.now += 30
    assert not lease.held


async def test_sql_lease_is_only_released_by_its_holder(embedded: StorageService, lease_name: str) -> None:
    holder = SqlLease(embedded, lease_name, 30)
    await holder.acquire()
    assert not await embedded.release_lease(lease_name, "someone-else")
    assert not await SqlLease(embedded, lease_name, 30).acquire()


class _BrokenStore(Lease):
    def __init__(self) -> None:
        super().__init__("broken", 30)
        self.fail = False

    async def _take(self) -> bool:
        if self.fail:
            raise ConnectionError("store is down")
        return True

    async def _give_up(self) -> None:
        return None


async def test_failed_renewal_loses_the_lease() -> None:
    lease = _BrokenStore()
    await lease.acquire()
    lease.fail = True
    assert not await lease.acquire()
    assert not lease.held


@pytest.fixture
async def private_redis_storage(
    tmp_path: Path, redis_process: RedisProcess, redis_prefix: str
) -> AsyncIterator[StorageService]:
    """Yield storage whose Redis is a private server that the test may stop."""
    service = await open_storage(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
        CacheSettings(backend="redis", redis_url=redis_process.url, key_prefix=redis_prefix),
    )
    yield service
    await service.close()


async def test_redis_lease_is_not_taken_while_redis_is_unreachable(
    private_redis_storage: StorageService, redis_process: RedisProcess, lease_name: str
) -> None:
    redis_process.stop()
    lease = make_lease(private_redis_storage, lease_name, 30)
    assert not await lease.acquire()


async def test_redis_lease_holder_loses_it_when_redis_goes_away(
    private_redis_storage: StorageService, redis_process: RedisProcess, lease_name: str
) -> None:
    lease = make_lease(private_redis_storage, lease_name, 30)
    assert await lease.acquire()
    redis_process.stop()
    await lease.acquire()
    assert not lease.held


# ---------------------------------------------------------------- the scheduler


def settings(**changes: Any) -> SchedulerSettings:
    return SchedulerSettings(**changes)


class Counter:
    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self) -> None:
        self.runs += 1


@pytest.fixture
async def schedulers() -> AsyncIterator[list[KindredScheduler]]:
    """Collect schedulers made by a test and shut every one down afterwards."""
    made: list[KindredScheduler] = []
    yield made
    for scheduler in made:
        await scheduler.shutdown()


async def test_scheduler_runs_jobs_only_on_the_leader(
    storage: StorageService, schedulers: list[KindredScheduler]
) -> None:
    leader_ticks, follower_ticks = Counter(), Counter()
    leader = KindredScheduler(storage, settings(), [ScheduledJob("tick", leader_ticks, interval_s=TICK_S)])
    follower = KindredScheduler(
        storage, settings(), [ScheduledJob("tick", follower_ticks, interval_s=TICK_S)]
    )
    schedulers += [leader, follower]
    await leader.start()
    await follower.start()
    await wait_until(lambda: leader_ticks.runs >= 3)
    assert follower_ticks.runs == 0


async def test_follower_takes_over_when_the_leader_shuts_down(
    storage: StorageService, schedulers: list[KindredScheduler]
) -> None:
    leader_ticks, follower_ticks = Counter(), Counter()
    short = settings(lease_ttl_s=1.0)
    leader = KindredScheduler(storage, short, [ScheduledJob("tick", leader_ticks, interval_s=TICK_S)])
    follower = KindredScheduler(storage, short, [ScheduledJob("tick", follower_ticks, interval_s=TICK_S)])
    schedulers += [leader, follower]
    await leader.start()
    await follower.start()
    await wait_until(lambda: leader_ticks.runs >= 1)
    await leader.shutdown()
    await wait_until(lambda: follower_ticks.runs >= 2)
    assert follower.is_leader


async def test_leader_keeps_the_lease_beyond_its_ttl_by_renewing(
    embedded: StorageService, schedulers: list[KindredScheduler]
) -> None:
    leader = KindredScheduler(embedded, settings(lease_ttl_s=1.0))
    follower = KindredScheduler(embedded, settings(lease_ttl_s=1.0))
    schedulers += [leader, follower]
    await leader.start()
    await follower.start()
    await asyncio.sleep(2.5)  # past two TTLs: an unrenewed lease would have gone to the follower by now
    assert (leader.is_leader, follower.is_leader) == (True, False)


async def test_failing_job_does_not_stop_the_others(
    embedded: StorageService, schedulers: list[KindredScheduler]
) -> None:
    async def boom() -> None:
        raise RuntimeError("kaput")

    ticks = Counter()
    scheduler = KindredScheduler(
        embedded,
        settings(),
        [ScheduledJob("boom", boom, interval_s=TICK_S), ScheduledJob("tick", ticks, interval_s=TICK_S)],
    )
    schedulers.append(scheduler)
    await scheduler.start()
    await wait_until(lambda: ticks.runs >= 3 and _status(scheduler, "boom").failures >= 2)


async def test_job_failure_is_recorded_in_status(
    embedded: StorageService, schedulers: list[KindredScheduler]
) -> None:
    async def boom() -> None:
        raise RuntimeError("kaput")

    scheduler = KindredScheduler(embedded, settings(), [ScheduledJob("boom", boom, interval_s=TICK_S)])
    schedulers.append(scheduler)
    await scheduler.start()
    await wait_until(lambda: _status(scheduler, "boom").failures >= 1)
    status = _status(scheduler, "boom")
    assert (status.last_ok, status.last_error) == (False, "RuntimeError: kaput")
    assert status.last_error_at is not None


async def test_successful_run_is_recorded_in_status(
    embedded: StorageService, schedulers: list[KindredScheduler]
) -> None:
    ticks = Counter()
    scheduler = KindredScheduler(embedded, settings(), [ScheduledJob("tick", ticks, interval_s=TICK_S)])
    schedulers.append(scheduler)
    await scheduler.start()
    await wait_until(lambda: _status(scheduler, "tick").runs >= 1)
    status = _status(scheduler, "tick")
    assert status.last_ok is True
    assert status.last_started_at is not None and status.last_duration_s is not None
    assert status.next_run_at is not None and status.schedule == f"every {TICK_S:g}s"


async def test_job_registered_after_start_runs(
    embedded: StorageService, schedulers: list[KindredScheduler]
) -> None:
    scheduler = KindredScheduler(embedded, settings())
    schedulers.append(scheduler)
    await scheduler.start()
    ticks = Counter()
    scheduler.register(ScheduledJob("late", ticks, interval_s=TICK_S))
    await wait_until(lambda: ticks.runs >= 1)


async def test_registering_an_existing_id_replaces_the_job(
    embedded: StorageService, schedulers: list[KindredScheduler]
) -> None:
    old, new = Counter(), Counter()
    scheduler = KindredScheduler(embedded, settings(), [ScheduledJob("job", old, interval_s=TICK_S)])
    scheduler.register(ScheduledJob("job", new, interval_s=TICK_S))
    schedulers.append(scheduler)
    await scheduler.start()
    await wait_until(lambda: new.runs >= 2)
    assert old.runs == 0


async def test_unregistered_job_stops_running(
    embedded: StorageService, schedulers: list[KindredScheduler]
) -> None:
    ticks = Counter()
    scheduler = KindredScheduler(embedded, settings(), [ScheduledJob("tick", ticks, interval_s=TICK_S)])
    schedulers.append(scheduler)
    await scheduler.start()
    await wait_until(lambda: ticks.runs >= 1)
    assert scheduler.unregister("tick")
    assert [s.id for s in scheduler.status()] == []


async def test_disabled_scheduler_neither_starts_nor_takes_the_lease(
    embedded: StorageService, schedulers: list[KindredScheduler]
) -> None:
    scheduler = KindredScheduler(embedded, settings(enabled=False))
    schedulers.append(scheduler)
    await scheduler.start()
    assert not scheduler.started
    assert await make_lease(embedded, "scheduler", 30).acquire()


async def test_shutdown_leaves_no_pending_tasks(embedded: StorageService) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    before = asyncio.all_tasks()
    scheduler = KindredScheduler(embedded, settings(), [ScheduledJob("forever", forever, interval_s=TICK_S)])
    await scheduler.start()
    await asyncio.wait_for(started.wait(), 20)
    await scheduler.shutdown()
    assert cancelled.is_set()
    assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()


async def test_shutdown_releases_the_lease(embedded: StorageService) -> None:
    scheduler = KindredScheduler(embedded, settings())
    await scheduler.start()
    await scheduler.shutdown()
    assert await make_lease(embedded, "scheduler", 30).acquire()


def _status(scheduler: KindredScheduler, job_id: str) -> Any:
    return next(s for s in scheduler.status() if s.id == job_id)


# ---------------------------------------------------------------- job definitions


def test_job_needs_exactly_one_schedule() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ScheduledJob("both", Counter(), interval_s=60, cron="* * * * *")


def test_job_with_a_bad_crontab_line_is_refused() -> None:
    with pytest.raises(ValueError):
        ScheduledJob("bad", Counter(), cron="every day")


def test_default_jobs_use_fixed_ids_and_the_configured_intervals(embedded: StorageService) -> None:
    jobs = default_jobs(embedded, settings(cache_cleanup_interval_s=61, reflection_sweep_interval_s=301))
    assert [(j.id, j.interval_s) for j in jobs] == [("cache_cleanup", 61), ("reflection_sweep", 301)]


def test_crystal_formation_slot_runs_daily_under_a_fixed_id() -> None:
    job = crystal_formation_job(Counter())
    trigger = job.trigger()
    now = datetime.now(UTC)
    first = trigger.get_next_fire_time(None, now)
    assert first is not None
    second = trigger.get_next_fire_time(first, first)
    assert job.id == CRYSTAL_FORMATION
    assert second is not None and second - first == timedelta(days=1)


def test_compression_slot_runs_hourly_under_a_fixed_id() -> None:
    job = compression_job(Counter())
    trigger = job.trigger()
    first = trigger.get_next_fire_time(None, datetime.now(UTC))
    assert first is not None
    second = trigger.get_next_fire_time(first, first)
    assert job.id == COMPRESSION
    assert second is not None and second - first == timedelta(hours=1)


# ---------------------------------------------------------------- the jobs themselves


@pytest.fixture
async def clocked(embedded: StorageService) -> AsyncIterator[tuple[StorageService, FakeClock]]:
    """Yield embedded storage whose in-process cache runs on a clock the test moves."""
    clock = FakeClock()
    # Swapped in after open: StorageService.open(cache=...) treats an empty InProcessCache as absent.
    await embedded.cache.close()
    embedded.cache = InProcessCache(default_ttl_s=600, clock=clock)
    yield embedded, clock


async def test_cache_cleanup_purges_expired_in_process_entries(
    clocked: tuple[StorageService, FakeClock],
) -> None:
    storage, clock = clocked
    assert isinstance(storage.cache, InProcessCache)
    await storage.cache.set("short", "x", ttl_s=10)
    await storage.cache.set("long", "y", ttl_s=100)
    clock.now += 20
    report = await cache_cleanup(storage)
    assert report["purged"] == 1
    assert len(storage.cache) == 1


async def test_cache_cleanup_reports_the_hit_ratio(clocked: tuple[StorageService, FakeClock]) -> None:
    storage, _ = clocked
    await storage.cache.set("k", "v")
    await storage.cache.get("k")
    await storage.cache.get("absent")
    report = await cache_cleanup(storage)
    assert (report["hits"], report["misses"], report["hit_ratio"]) == (1, 1, 0.5)


async def test_cache_cleanup_leaves_expiry_to_redis(redis_storage: StorageService) -> None:
    report = await cache_cleanup(redis_storage)
    assert (report["backend"], report["purged"]) == ("redis", None)


async def test_idle_session_is_closed_and_its_window_dropped(storage: StorageService) -> None:
    await storage.record_turn(ALICE, "user", "an old conversation", created_at=datetime.now(UTC) - LONG_AGO)
    await storage.recent_turns(ALICE)  # cache the window, so the close has one to drop
    assert await storage.close_idle_sessions(IDLE_S) == 1
    assert await storage.recent_turns(ALICE) == []


async def test_active_session_stays_open(storage: StorageService) -> None:
    await storage.record_turn(ALICE, "user", "old", created_at=datetime.now(UTC) - LONG_AGO)
    await storage.record_turn(BOB, "user", "just now")
    await storage.close_idle_sessions(IDLE_S)
    assert [t.text for t in await storage.recent_turns(BOB)] == ["just now"]


async def test_turn_after_an_idle_close_starts_a_new_session(storage: StorageService) -> None:
    old = await storage.record_turn(ALICE, "user", "old", created_at=datetime.now(UTC) - LONG_AGO)
    await storage.close_idle_sessions(IDLE_S)
    new = await storage.record_turn(ALICE, "user", "hello again")
    assert new.conversation_id != old.conversation_id
    assert [t.text for t in await storage.recent_turns(ALICE)] == ["hello again"]


async def test_reflection_sweep_closes_idle_sessions(embedded: StorageService) -> None:
    await embedded.record_turn(ALICE, "user", "old", created_at=datetime.now(UTC) - LONG_AGO)
    report = await reflection_sweep(embedded, IDLE_S)
    assert report["closed_sessions"] == 1


class FakeJobQueue:
    def __init__(self) -> None:
        self.calls: list[datetime] = []

    async def redrive_stuck(self, now: datetime) -> int:
        self.calls.append(now)
        return 2


async def test_reflection_sweep_redrives_stuck_jobs_when_the_queue_exists(
    embedded: StorageService, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = FakeJobQueue()
    monkeypatch.setattr(embedded, "jobs", queue, raising=False)
    report = await reflection_sweep(embedded, IDLE_S)
    assert report["redriven_jobs"] == 2
    assert len(queue.calls) == 1 and queue.calls[0].tzinfo is not None
