"""Behaviour only the in-process cache has: its bound, eviction order, shrinking and clearing."""

from __future__ import annotations

import pytest

from storage.cache import InProcessCache, make_cache
from storage.config import CacheSettings
from storage.health import Status


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_entries_never_exceed_max_entries() -> None:
    cache = InProcessCache(max_entries=10)
    for i in range(25):
        await cache.set(f"k{i}", "v")
    assert len(cache) == 10


async def test_least_recently_used_key_is_evicted_first() -> None:
    cache = InProcessCache(max_entries=3)
    for key in ("a", "b", "c", "d"):
        await cache.set(key, key)
    assert await cache.get("a") is None
    assert await cache.get("b") == "b"


async def test_reading_a_key_protects_it_from_eviction() -> None:
    cache = InProcessCache(max_entries=3)
    for key in ("a", "b", "c"):
        await cache.set(key, key)
    await cache.get("a")
    await cache.set("d", "d")
    assert await cache.get("a") == "a"
    assert await cache.get("b") is None


async def test_windows_and_buckets_count_toward_the_bound() -> None:
    cache = InProcessCache(max_entries=2)
    await cache.set("a", "a")
    await cache.push_window("w", "t", max_len=5)
    await cache.take_tokens("rl", capacity=1, refill_per_s=1)
    assert len(cache) == 2
    assert await cache.get("a") is None


async def test_held_lock_is_never_evicted() -> None:
    cache = InProcessCache(max_entries=2)
    await cache.acquire_lock("lock", ttl_s=60)
    for i in range(5):
        await cache.set(f"k{i}", "v")
    assert await cache.acquire_lock("lock", ttl_s=60) is None


async def test_expired_entries_are_purged_without_being_read(clock: FakeClock) -> None:
    cache = InProcessCache(max_entries=100, clock=clock)
    await cache.set("short", "v", ttl_s=1)
    await cache.set("long", "v", ttl_s=100)
    clock.advance(2)
    assert cache.purge_expired() == 1
    assert len(cache) == 1


async def test_writes_sweep_expired_entries_now_and_then(clock: FakeClock) -> None:
    cache = InProcessCache(max_entries=100, clock=clock)
    await cache.set("short", "v", ttl_s=1)
    clock.advance(3_600)
    await cache.set("other", "v")
    assert len(cache) == 1


async def test_shrink_drops_the_least_recently_used_fraction() -> None:
    cache = InProcessCache(max_entries=100)
    for i in range(10):
        await cache.set(f"k{i}", "v")
    assert cache.shrink(0.5) == 5
    assert await cache.get("k4") is None
    assert await cache.get("k5") == "v"


async def test_shrink_rejects_a_fraction_outside_zero_to_one() -> None:
    cache = InProcessCache()
    with pytest.raises(ValueError):
        cache.shrink(1.5)


async def test_clear_drops_everything_but_held_locks() -> None:
    cache = InProcessCache()
    await cache.set("k", "v")
    await cache.fill_window("w", ["a"], max_len=5)
    await cache.acquire_lock("lock", ttl_s=60)
    assert cache.clear() == 2
    assert await cache.get("k") is None
    assert await cache.read_window("w") is None
    assert await cache.acquire_lock("lock", ttl_s=60) is None


async def test_refused_take_waits_exactly_for_the_missing_tokens(clock: FakeClock) -> None:
    cache = InProcessCache(clock=clock)
    await cache.take_tokens("rl", capacity=2, refill_per_s=4)
    await cache.take_tokens("rl", capacity=2, refill_per_s=4)
    clock.advance(0.125)
    refused = await cache.take_tokens("rl", capacity=2, refill_per_s=4)
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(0.125)


async def test_bucket_never_refills_past_its_capacity(clock: FakeClock) -> None:
    cache = InProcessCache(clock=clock)
    await cache.take_tokens("rl", capacity=2, refill_per_s=1)
    clock.advance(60)
    decision = await cache.take_tokens("rl", capacity=2, refill_per_s=1)
    assert decision.remaining == pytest.approx(1.0)


async def test_health_is_always_ok_on_the_memory_backend() -> None:
    health = InProcessCache().health()
    assert (health.tier, health.backend, health.status) == ("cache", "memory", Status.OK)


async def test_make_cache_builds_an_in_process_cache_for_the_memory_backend() -> None:
    cache = make_cache(CacheSettings(backend="memory", max_entries=123))
    assert isinstance(cache, InProcessCache)
    assert cache.health().extra["max_entries"] == 123
