"""The server cache: Redis through ``redis.asyncio``, shared by every bot and worker process.

Needs Redis 5 or later (scripts that read TIME and then write rely on effect replication).
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from storage.cache.base import CacheStats, CacheUnavailable, RateDecision, has_segment

# Connections per process; a request beyond that waits up to POOL_WAIT_S for one to come free.
POOL_SIZE = 128
POOL_WAIT_S = 5.0

log = logging.getLogger(__name__)

# Redis has no empty list: a window filled with nothing holds this one marker instead, so that
# "cached and empty" stays distinct from "not cached". The NUL bytes keep it out of any JSON a caller stores.
EMPTY_WINDOW_MARKER = "\x00kindred:empty-window\x00"

_DELETE_BATCH = 500

# Refill and take in one step on the server's clock, so every process sharing Redis agrees on time.
# Numbers go back as strings because Redis truncates Lua numbers to integers.
_TAKE_TOKENS_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
else
  local elapsed = math.max(0, now - ts)
  tokens = math.min(capacity, tokens + elapsed * rate)
end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
elseif cost <= capacity then
  retry = (cost - tokens) / rate
else
  retry = -1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return {allowed, string.format('%.17g', tokens), string.format('%.17g', retry)}
"""

_RELEASE_LOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# One command instead of a MULTI/RPUSH/LTRIM/PEXPIRE/EXEC pipeline: a turn's mirror is on the reply path, and
# redis-py spends more time building and parsing five commands than Redis spends running them.
# ARGV: item, max_len, ttl in ms (0: none), create (1) or only extend an existing window (0).
_PUSH_WINDOW_LUA = """
if ARGV[4] == '0' and redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
if ARGV[3] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
"""

_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


@contextmanager
def _unavailable_on_error() -> Iterator[None]:
    try:
        yield
    except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
        raise CacheUnavailable(f"Redis is unreachable: {exc}") from exc


def _ttl_ms(ttl_s: float | None) -> int | None:
    if ttl_s is None:
        return None
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    return max(1, math.ceil(ttl_s * 1000))


class RedisCache:
    """The cache contract on Redis; every key gets ``key_prefix`` in front."""

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "kindred:",
        default_ttl_s: float | None = 600.0,
        connect_timeout_s: float = 1.0,
        op_timeout_s: float = 1.0,
    ) -> None:
        self.backend: str = "redis"
        self._prefix = key_prefix
        self._default_ttl_s = default_ttl_s
        # One immediate retry lets a pooled connection that died (e.g. Redis restarted) reconnect; a
        # timeout is not retried, so a dead server costs a reply at most about one timeout.
        # A blocking pool makes a burst of requests wait for a free connection; the default pool raises
        # "Too many connections" instead, which would look like an outage and trigger a needless failover.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT_S,
            decode_responses=True,
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=op_timeout_s,
            retry=Retry(NoBackoff(), 1, (redis_errors.ConnectionError,)),
        )
        self._client: Redis = Redis.from_pool(pool)
        self._take_tokens = self._client.register_script(_TAKE_TOKENS_LUA)
        self._release_lock = self._client.register_script(_RELEASE_LOCK_LUA)
        self._push_window = self._client.register_script(_PUSH_WINDOW_LUA)
        self._hits = 0
        self._misses = 0

    def _key(self, key: str) -> str:
        return self._prefix + key

    def _default_ttl_ms(self, ttl_s: float | None) -> int | None:
        return _ttl_ms(self._default_ttl_s if ttl_s is None else ttl_s)

    # ------------------------------------------------------------ key/value

    async def get(self, key: str) -> str | None:
        """Return the string stored at ``key``, or None."""
        with _unavailable_on_error():
            # decode_responses=True makes every reply str; the client's stubs cannot know that.
            value = cast(str | None, await self._client.get(self._key(key)))
        if value is None:
            self._misses += 1
        else:
            self._hits += 1
        return value

    async def set(self, key: str, value: str, ttl_s: float | None = None) -> None:
        """Store ``value`` at ``key`` for ``ttl_s`` seconds (the default TTL when None)."""
        ttl_ms = self._default_ttl_ms(ttl_s)
        with _unavailable_on_error():
            await self._client.set(self._key(key), value, px=ttl_ms)

    async def delete(self, *keys: str) -> int:
        """Delete ``keys``; return how many existed."""
        if not keys:
            return 0
        with _unavailable_on_error():
            return int(await self._client.unlink(*(self._key(k) for k in keys)))

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix``; return how many went."""
        # Escaped so that a prefix with glob characters matches only itself.
        pattern = _GLOB_SPECIAL.sub(r"\\\1", self._key(prefix)) + "*"
        removed = 0
        batch: list[str] = []
        with _unavailable_on_error():
            async for key in self._client.scan_iter(match=pattern, count=_DELETE_BATCH):
                batch.append(key)
                if len(batch) >= _DELETE_BATCH:
                    removed += int(await self._client.unlink(*batch))
                    batch.clear()
            if batch:
                removed += int(await self._client.unlink(*batch))
        return removed

    async def keys_with_segment(self, segment: str) -> list[str]:
        """Return every key (without this cache's prefix) with ``segment`` as one of its parts."""
        escape = _GLOB_SPECIAL.sub
        pattern = escape(r"\\\1", self._key("")) + "*" + escape(r"\\\1", segment) + "*"
        start = len(self._key(""))
        found = []
        with _unavailable_on_error():
            async for raw in self._client.scan_iter(match=pattern, count=_DELETE_BATCH):
                key = (raw.decode() if isinstance(raw, bytes) else str(raw))[start:]
                if has_segment(key, segment):  # the glob also matches "discord.42" for "discord.4"
                    found.append(key)
        return found

    async def delete_segment(self, segment: str) -> int:
        """Delete every key with ``segment`` as one of its parts; return how many went."""
        keys = await self.keys_with_segment(segment)
        removed = 0
        for start in range(0, len(keys), _DELETE_BATCH):
            removed += await self.delete(*keys[start : start + _DELETE_BATCH])
        return removed

    # ------------------------------------------------------------ windows

    async def push_window(
        self, key: str, item: str, max_len: int, ttl_s: float | None = None, *, create: bool = True
    ) -> None:
        """Append ``item`` to a window keeping only the newest ``max_len`` items."""
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        full_key, ttl_ms = self._key(key), self._default_ttl_ms(ttl_s)
        with _unavailable_on_error():
            # An empty-window marker is always the oldest element, so trimming drops it before any item.
            await self._push_window(keys=[full_key], args=[item, max_len, ttl_ms or 0, 1 if create else 0])

    async def read_window(self, key: str, limit: int | None = None) -> list[str] | None:
        """Return up to ``limit`` newest items, oldest first; None when the window is not cached."""
        full_key = self._key(key)
        with _unavailable_on_error():
            if limit is not None and limit <= 0:
                exists = bool(await self._client.exists(full_key))
                items: list[str] = [EMPTY_WINDOW_MARKER] if exists else []
            else:
                items = cast(list[str], await self._client.lrange(full_key, -limit if limit else 0, -1))
        if not items:
            self._misses += 1
            return None
        self._hits += 1
        return [item for item in items if item != EMPTY_WINDOW_MARKER]

    async def fill_window(self, key: str, items: list[str], max_len: int, ttl_s: float | None = None) -> None:
        """Replace a window with ``items`` (oldest first), e.g. after loading it from SQL."""
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        full_key, ttl_ms = self._key(key), self._default_ttl_ms(ttl_s)
        payload = items[-max_len:] or [EMPTY_WINDOW_MARKER]
        with _unavailable_on_error():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.unlink(full_key)
                pipe.rpush(full_key, *payload)
                if ttl_ms is not None:
                    pipe.pexpire(full_key, ttl_ms)
                await pipe.execute()

    # ------------------------------------------------------------ rate limits

    async def take_tokens(
        self, key: str, capacity: float, refill_per_s: float, cost: float = 1.0
    ) -> RateDecision:
        """Take ``cost`` tokens from a token bucket that refills continuously."""
        if capacity <= 0 or refill_per_s <= 0 or cost < 0:
            raise ValueError("capacity and refill_per_s must be positive and cost not negative")
        with _unavailable_on_error():
            allowed, remaining, retry = await self._take_tokens(
                keys=[self._key(key)], args=[repr(capacity), repr(refill_per_s), repr(cost)]
            )
        retry_after = float(retry)
        return RateDecision(
            allowed=int(allowed) == 1,
            remaining=float(remaining),
            retry_after_s=math.inf if retry_after < 0 else retry_after,
        )

    # ------------------------------------------------------------ locks

    async def acquire_lock(self, key: str, ttl_s: float) -> str | None:
        """Take a lock if free; return its token, or None when someone else holds it."""
        ttl_ms = _ttl_ms(ttl_s)
        token = secrets.token_hex(16)
        with _unavailable_on_error():
            taken = await self._client.set(self._key(key), token, nx=True, px=ttl_ms)
        return token if taken else None

    async def release_lock(self, key: str, token: str) -> bool:
        """Release a lock only if ``token`` still owns it."""
        with _unavailable_on_error():
            released = await self._release_lock(keys=[self._key(key)], args=[token])
        return int(released) == 1

    # ------------------------------------------------------------ state

    def stats(self) -> CacheStats:
        """Return this process's hit and miss counts since start."""
        return CacheStats(hits=self._hits, misses=self._misses)

    async def ping(self) -> float:
        """Return the round-trip time in milliseconds, or raise CacheUnavailable."""
        started = time.perf_counter()
        with _unavailable_on_error():
            await self._client.ping()
        return (time.perf_counter() - started) * 1000.0

    async def close(self) -> None:
        """Close the connection pool."""
        try:
            await self._client.aclose()
        except (redis_errors.RedisError, OSError) as exc:
            # Shutting down must not fail because the server already went away.
            log.debug("closing the Redis client failed: %s", exc)
