"""Failover between a private redis-server (stopped and started by the tests) and the in-process cache."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from storage.cache import FailoverCache, InProcessCache, RedisCache, make_cache
from storage.cache.failover import PROBE_TASK_NAME
from storage.config import CacheSettings
from storage.health import Status
from tests.conftest import RedisProcess, free_port

MakeFailover = Callable[..., FailoverCache]

# Long enough that only an explicit try_reconnect() brings the cache back, for tests that stage Redis first.
NEVER_S = 3600.0


async def wait_until(condition: Callable[[], bool], deadline_s: float = 20.0) -> None:
    """Poll ``condition`` until it holds, failing the test after a generous deadline."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_s
    while not condition():
        if loop.time() > give_up:
            pytest.fail(f"condition did not hold within {deadline_s}s")
        await asyncio.sleep(0.05)


@pytest.fixture
async def make_failover(redis_prefix: str) -> AsyncIterator[MakeFailover]:
    """Yield a factory of failover caches; each is closed afterwards."""
    created: list[FailoverCache] = []

    def make(url: str, reconnect_interval_s: float = 0.1) -> FailoverCache:
        cache = FailoverCache(
            RedisCache(url, key_prefix=redis_prefix),
            InProcessCache(max_entries=1_000),
            reconnect_interval_s=reconnect_interval_s,
            stale_prefixes=["win:"],
        )
        created.append(cache)
        return cache

    yield make
    for cache in created:
        await cache.close()


@pytest.fixture
async def direct(redis_process: RedisProcess, redis_prefix: str) -> AsyncIterator[RedisCache]:
    """Yield a plain client on the same server and prefix, to see what really is in Redis."""
    client = RedisCache(redis_process.url, key_prefix=redis_prefix)
    yield client
    await client.close()


async def go_degraded(cache: FailoverCache, server: RedisProcess) -> None:
    server.stop()
    await cache.get("anything")
    assert cache.degraded


async def test_serves_from_redis_while_it_answers(
    make_failover: MakeFailover, redis_process: RedisProcess, direct: RedisCache
) -> None:
    cache = make_failover(redis_process.url)
    await cache.set("k", "v")
    assert await direct.get("k") == "v"
    health = cache.health()
    assert (health.status, health.backend) == (Status.OK, "redis")


async def test_operations_succeed_on_the_fallback_after_redis_stops(
    make_failover: MakeFailover, redis_process: RedisProcess
) -> None:
    cache = make_failover(redis_process.url)
    await cache.set("before", "v")
    redis_process.stop()
    await cache.set("k", "v")
    await cache.push_window("win:c", "t1", max_len=5)
    assert await cache.get("k") == "v"
    assert await cache.read_window("win:c") == ["t1"]
    assert (await cache.take_tokens("rl", capacity=1, refill_per_s=1)).allowed
    assert await cache.acquire_lock("lock", ttl_s=10) is not None


async def test_outage_shows_as_degraded_health(
    make_failover: MakeFailover, redis_process: RedisProcess
) -> None:
    cache = make_failover(redis_process.url)
    await go_degraded(cache, redis_process)
    health = cache.health()
    assert (health.status, health.backend) == (Status.DEGRADED, "memory")
    assert "unreachable" in health.detail


async def test_outage_logs_exactly_one_warning(
    make_failover: MakeFailover, redis_process: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_failover(redis_process.url)
    await cache.get("k")
    with caplog.at_level(logging.WARNING, logger="storage.cache.failover"):
        redis_process.stop()
        # Several calls in flight when Redis goes all fail on it at once.
        await asyncio.gather(*(cache.get(f"k{i}") for i in range(5)))
        for _ in range(5):
            await cache.set("k", "v")
            await cache.get("k")
        # Let a few probes fail too; they must stay quiet.
        await asyncio.sleep(0.5)
    warnings = [
        r for r in caplog.records if r.name == "storage.cache.failover" and r.levelno >= logging.WARNING
    ]
    assert len(warnings) == 1


async def test_returns_to_redis_when_it_answers_again(
    make_failover: MakeFailover, redis_process: RedisProcess, direct: RedisCache
) -> None:
    cache = make_failover(redis_process.url)
    await go_degraded(cache, redis_process)
    redis_process.start()
    await wait_until(lambda: not cache.degraded)
    await cache.set("k", "after")
    assert await direct.get("k") == "after"
    health = cache.health()
    assert (health.status, health.backend) == (Status.OK, "redis")


async def test_return_purges_the_stale_prefixes_from_redis(
    make_failover: MakeFailover, redis_process: RedisProcess, direct: RedisCache
) -> None:
    cache = make_failover(redis_process.url, reconnect_interval_s=NEVER_S)
    await go_degraded(cache, redis_process)
    redis_process.start()
    # What a Redis that kept its data through the outage would still hold.
    await direct.push_window("win:chan", "missed-later-turns", max_len=5)
    await direct.set("profile:1", "untouched")
    assert await cache.try_reconnect()
    assert await direct.read_window("win:chan") is None
    assert await direct.get("profile:1") == "untouched"


async def test_return_drops_redis_copies_of_keys_changed_during_the_outage(
    make_failover: MakeFailover, redis_process: RedisProcess, direct: RedisCache
) -> None:
    cache = make_failover(redis_process.url, reconnect_interval_s=NEVER_S)
    await go_degraded(cache, redis_process)
    await cache.set("profile:1", "changed-during-outage")
    redis_process.start()
    await direct.set("profile:1", "from-before-the-outage")
    assert await cache.try_reconnect()
    assert await cache.get("profile:1") is None


async def test_next_outage_starts_with_a_cold_fallback(
    make_failover: MakeFailover, redis_process: RedisProcess
) -> None:
    cache = make_failover(redis_process.url, reconnect_interval_s=NEVER_S)
    await go_degraded(cache, redis_process)
    await cache.set("k", "from-the-first-outage")
    redis_process.start()
    assert await cache.try_reconnect()
    await go_degraded(cache, redis_process)
    assert await cache.get("k") is None


async def test_lock_taken_during_an_outage_can_be_released_after_it(
    make_failover: MakeFailover, redis_process: RedisProcess
) -> None:
    cache = make_failover(redis_process.url, reconnect_interval_s=NEVER_S)
    await go_degraded(cache, redis_process)
    token = await cache.acquire_lock("lock", ttl_s=10)
    assert token is not None
    redis_process.start()
    assert await cache.try_reconnect()
    assert await cache.release_lock("lock", token)


async def test_unreachable_redis_at_start_is_degraded_from_the_start(make_failover: MakeFailover) -> None:
    cache = make_failover(f"redis://127.0.0.1:{free_port()}/0")
    await cache.start()
    assert cache.health().status is Status.DEGRADED


async def test_operations_work_when_redis_was_never_reachable(make_failover: MakeFailover) -> None:
    cache = make_failover(f"redis://127.0.0.1:{free_port()}/0")
    await cache.set("k", "v")
    assert await cache.get("k") == "v"
    assert cache.degraded


async def test_close_stops_the_reconnect_probe(
    make_failover: MakeFailover, redis_process: RedisProcess
) -> None:
    cache = make_failover(redis_process.url)
    await go_degraded(cache, redis_process)
    assert any(task.get_name() == PROBE_TASK_NAME for task in asyncio.all_tasks())
    await cache.close()
    assert not any(task.get_name() == PROBE_TASK_NAME for task in asyncio.all_tasks())


async def test_make_cache_builds_a_failover_cache_for_the_redis_backend() -> None:
    cache = make_cache(CacheSettings(backend="redis", redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        assert isinstance(cache, FailoverCache)
    finally:
        await cache.close()
