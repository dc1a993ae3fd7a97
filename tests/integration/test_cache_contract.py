"""One contract, two backends: every test runs on the in-process cache and on a real Redis."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable

import pytest

from storage.cache import Cache, CacheStats, InProcessCache, RedisCache, held_lock

MakeCache = Callable[..., Cache]


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """Return (backend, redis url, key prefix); Redis is only required for the redis run."""
    if request.param == "memory":
        return ("memory", "", "")
    return ("redis", request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))


@pytest.fixture
async def make_cache(backend: tuple[str, str, str]) -> AsyncIterator[MakeCache]:
    """Yield a factory of caches of the backend under test; their keys are removed afterwards."""
    kind, url, base_prefix = backend
    created: list[Cache] = []

    def make(namespace: str = "", default_ttl_s: float | None = 60.0) -> Cache:
        cache: Cache
        if kind == "memory":
            cache = InProcessCache(max_entries=1_000, default_ttl_s=default_ttl_s)
        else:
            cache = RedisCache(url, key_prefix=f"{base_prefix}{namespace}", default_ttl_s=default_ttl_s)
        created.append(cache)
        return cache

    yield make
    for cache in created:
        await cache.delete_prefix("")
        await cache.close()


@pytest.fixture
def cache(make_cache: MakeCache) -> Cache:
    return make_cache()


# ---------------------------------------------------------------- key/value


async def test_get_returns_the_value_set(cache: Cache) -> None:
    await cache.set("k", "v")
    assert await cache.get("k") == "v"


async def test_get_of_a_missing_key_is_none(cache: Cache) -> None:
    assert await cache.get("nothing-here") is None


async def test_set_overwrites_the_previous_value(cache: Cache) -> None:
    await cache.set("k", "old")
    await cache.set("k", "new")
    assert await cache.get("k") == "new"


async def test_value_is_gone_after_its_ttl(cache: Cache) -> None:
    await cache.set("k", "v", ttl_s=0.2)
    await asyncio.sleep(0.4)
    assert await cache.get("k") is None


async def test_value_without_ttl_gets_the_default_ttl(make_cache: MakeCache) -> None:
    cache = make_cache(default_ttl_s=0.2)
    await cache.set("k", "v")
    await asyncio.sleep(0.4)
    assert await cache.get("k") is None


async def test_delete_removes_keys_and_counts_those_that_existed(cache: Cache) -> None:
    await cache.set("a", "1")
    await cache.set("b", "2")
    assert await cache.delete("a", "b", "never-set") == 2
    assert await cache.get("a") is None
    assert await cache.get("b") is None


async def test_delete_prefix_removes_every_kind_of_key_under_it_and_nothing_else(cache: Cache) -> None:
    await cache.set("user:1:name", "x")
    await cache.push_window("user:1:win", "t", max_len=5)
    await cache.take_tokens("user:1:rate", capacity=3, refill_per_s=1)
    await cache.set("user:10:name", "other")
    await cache.set("user:2:name", "y")
    assert await cache.delete_prefix("user:1:") == 3
    assert await cache.get("user:1:name") is None
    assert await cache.read_window("user:1:win") is None
    assert await cache.get("user:10:name") == "other"
    assert await cache.get("user:2:name") == "y"


async def test_delete_prefix_treats_glob_characters_literally(cache: Cache) -> None:
    await cache.set("a*b", "1")
    await cache.set("axb", "2")
    await cache.set("a?c", "3")
    assert await cache.delete_prefix("a*") == 1
    assert await cache.get("axb") == "2"
    assert await cache.get("a?c") == "3"


async def test_keys_of_different_cache_prefixes_do_not_collide(make_cache: MakeCache) -> None:
    first, second = make_cache("one:"), make_cache("two:")
    await first.set("k", "first")
    await second.set("k", "second")
    await first.delete_prefix("")
    assert await first.get("k") is None
    assert await second.get("k") == "second"


# ---------------------------------------------------------------- windows


async def test_window_reads_oldest_first(cache: Cache) -> None:
    for item in ("a", "b", "c"):
        await cache.push_window("w", item, max_len=5)
    assert await cache.read_window("w") == ["a", "b", "c"]


async def test_window_keeps_only_the_newest_max_len_items(cache: Cache) -> None:
    for item in ("1", "2", "3", "4", "5"):
        await cache.push_window("w", item, max_len=3)
    assert await cache.read_window("w") == ["3", "4", "5"]


async def test_read_window_limit_returns_the_newest_items(cache: Cache) -> None:
    for item in ("1", "2", "3", "4"):
        await cache.push_window("w", item, max_len=10)
    assert await cache.read_window("w", limit=2) == ["3", "4"]


async def test_read_window_limit_zero_returns_an_empty_list(cache: Cache) -> None:
    await cache.push_window("w", "1", max_len=10)
    assert await cache.read_window("w", limit=0) == []


async def test_absent_window_reads_none(cache: Cache) -> None:
    assert await cache.read_window("never-filled") is None
    assert await cache.read_window("never-filled", limit=0) is None


async def test_window_filled_with_nothing_reads_empty_not_none(cache: Cache) -> None:
    await cache.fill_window("w", [], max_len=5)
    assert await cache.read_window("w") == []
    assert await cache.read_window("w", limit=3) == []


async def test_push_onto_an_empty_filled_window_keeps_just_the_items(cache: Cache) -> None:
    await cache.fill_window("w", [], max_len=1)
    await cache.push_window("w", "x", max_len=1)
    assert await cache.read_window("w") == ["x"]
    await cache.push_window("w", "y", max_len=1)
    assert await cache.read_window("w") == ["y"]


async def test_fill_window_replaces_what_was_there(cache: Cache) -> None:
    await cache.push_window("w", "stale", max_len=5)
    await cache.fill_window("w", ["a", "b"], max_len=5)
    assert await cache.read_window("w") == ["a", "b"]


async def test_fill_window_keeps_the_newest_max_len_items(cache: Cache) -> None:
    await cache.fill_window("w", ["1", "2", "3", "4", "5"], max_len=3)
    assert await cache.read_window("w") == ["3", "4", "5"]


async def test_window_is_gone_after_its_ttl(cache: Cache) -> None:
    await cache.push_window("w", "a", max_len=5, ttl_s=0.2)
    await asyncio.sleep(0.4)
    assert await cache.read_window("w") is None


async def test_window_rejects_a_max_len_below_one(cache: Cache) -> None:
    with pytest.raises(ValueError):
        await cache.push_window("w", "a", max_len=0)


# ---------------------------------------------------------------- token buckets


async def test_bucket_allows_its_capacity_then_refuses(cache: Cache) -> None:
    decisions = [await cache.take_tokens("rl", capacity=3, refill_per_s=0.1) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]


async def test_bucket_reports_the_tokens_left(cache: Cache) -> None:
    decision = await cache.take_tokens("rl", capacity=3, refill_per_s=0.1)
    assert decision.remaining == pytest.approx(2.0, abs=0.01)


async def test_refused_take_says_when_to_retry(cache: Cache) -> None:
    for _ in range(2):
        await cache.take_tokens("rl", capacity=2, refill_per_s=1.0)
    refused = await cache.take_tokens("rl", capacity=2, refill_per_s=1.0)
    assert not refused.allowed
    assert 0 < refused.retry_after_s <= 1.0


async def test_take_costing_more_than_capacity_is_never_allowed(cache: Cache) -> None:
    refused = await cache.take_tokens("rl", capacity=2, refill_per_s=1.0, cost=3)
    assert not refused.allowed
    assert math.isinf(refused.retry_after_s)


async def test_bucket_refills_over_time(cache: Cache) -> None:
    assert (await cache.take_tokens("rl", capacity=1, refill_per_s=2.0)).allowed
    assert not (await cache.take_tokens("rl", capacity=1, refill_per_s=2.0)).allowed
    await asyncio.sleep(0.6)
    assert (await cache.take_tokens("rl", capacity=1, refill_per_s=2.0)).allowed


async def test_buckets_of_different_keys_are_independent(cache: Cache) -> None:
    assert (await cache.take_tokens("rl:a", capacity=1, refill_per_s=0.1)).allowed
    assert (await cache.take_tokens("rl:b", capacity=1, refill_per_s=0.1)).allowed


# ---------------------------------------------------------------- locks


async def test_lock_is_exclusive(cache: Cache) -> None:
    assert await cache.acquire_lock("lock", ttl_s=10) is not None
    assert await cache.acquire_lock("lock", ttl_s=10) is None


async def test_concurrent_acquirers_get_exactly_one_lock(cache: Cache) -> None:
    tokens = await asyncio.gather(*(cache.acquire_lock("lock", ttl_s=10) for _ in range(10)))
    assert sum(token is not None for token in tokens) == 1


async def test_released_lock_can_be_taken_again(cache: Cache) -> None:
    token = await cache.acquire_lock("lock", ttl_s=10)
    assert token is not None
    assert await cache.release_lock("lock", token)
    assert await cache.acquire_lock("lock", ttl_s=10) is not None


async def test_release_with_another_token_keeps_the_lock(cache: Cache) -> None:
    await cache.acquire_lock("lock", ttl_s=10)
    assert not await cache.release_lock("lock", "not-the-owner")
    assert await cache.acquire_lock("lock", ttl_s=10) is None


async def test_lock_expires_after_its_ttl(cache: Cache) -> None:
    await cache.acquire_lock("lock", ttl_s=0.2)
    await asyncio.sleep(0.4)
    assert await cache.acquire_lock("lock", ttl_s=10) is not None


async def test_held_lock_releases_when_the_block_ends(cache: Cache) -> None:
    async with held_lock(cache, "lock", ttl_s=10) as got:
        assert got
        async with held_lock(cache, "lock", ttl_s=10) as second:
            assert not second
    assert await cache.acquire_lock("lock", ttl_s=10) is not None


# ---------------------------------------------------------------- stats and ping


async def test_get_counts_hits_and_misses(cache: Cache) -> None:
    await cache.get("k")
    await cache.set("k", "v")
    await cache.get("k")
    await cache.get("k")
    assert cache.stats() == CacheStats(hits=2, misses=1)


async def test_read_window_counts_hits_and_misses(cache: Cache) -> None:
    await cache.read_window("w")
    await cache.fill_window("w", [], max_len=5)
    await cache.read_window("w")
    assert cache.stats() == CacheStats(hits=1, misses=1)


async def test_ping_reports_a_latency(cache: Cache) -> None:
    assert await cache.ping() >= 0.0


async def test_push_without_create_leaves_an_absent_window_absent(cache: Cache) -> None:
    await cache.push_window("w", "late", max_len=5, create=False)
    assert await cache.read_window("w") is None


async def test_push_without_create_extends_an_existing_window(cache: Cache) -> None:
    await cache.fill_window("w", ["a"], max_len=5)
    await cache.push_window("w", "b", max_len=5, create=False)
    assert await cache.read_window("w") == ["a", "b"]
