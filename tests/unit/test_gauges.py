"""The state gauges: cache lookups never count backwards, and pool usage reads SQLAlchemy's pool."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from sqlalchemy.ext.asyncio import create_async_engine

from bot import metrics
from bot.ops.gauges import GaugeRefresher, pool_usage
from storage.cache.base import CacheStats
from storage.queue.base import QueueStats


class FakeCache:
    def __init__(self) -> None:
        self.current = CacheStats(0, 0)

    def stats(self) -> CacheStats:
        return self.current


class FakeJobs:
    async def stats(self) -> QueueStats:
        return QueueStats("sql", 3, 2, 1, 0, 0, 0, 0, 42.0)


async def test_cache_lookups_survive_a_cache_that_restarts_its_counts(tmp_path: Path) -> None:
    cache = FakeCache()
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    storage = SimpleNamespace(cache=cache, jobs=FakeJobs(), engine=engine)
    refresher = GaugeRefresher(storage)  # type: ignore[arg-type]
    hits_before = metrics.counter_total(metrics.CACHE_LOOKUPS, result="hit")
    try:
        cache.current = CacheStats(10, 5)
        first = await refresher.refresh()
        cache.current = CacheStats(2, 1)  # e.g. the failover cache swapped back to a fresh Redis client
        second = await refresher.refresh()
        cache.current = CacheStats(4, 1)
        third = await refresher.refresh()
    finally:
        await engine.dispose()
    assert (first.cache_hits, first.cache_misses) == (10, 5)
    assert (second.cache_hits, second.cache_misses) == (10, 5)
    assert (third.cache_hits, third.cache_misses) == (12, 5)
    assert metrics.counter_total(metrics.CACHE_LOOKUPS, result="hit") == hits_before + 12
    assert (third.queue_depth, third.queue_lag_s) == (3, 42.0)
    assert metrics.REGISTRY.get_sample_value("kindred_queue_lag_seconds") == 42.0


async def test_pool_usage_counts_checked_out_connections(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", pool_size=2, max_overflow=2)
    try:
        assert pool_usage(engine) == (0, 0.0)
        async with engine.connect():
            assert pool_usage(engine) == (1, 0.25)
    finally:
        await engine.dispose()
