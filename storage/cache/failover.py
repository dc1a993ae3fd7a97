"""Redis with an in-process stand-in: the bot keeps answering while Redis is away.

The cache is disposable (SQL is the source of truth), so serving from a cold in-process cache during an
outage only costs reloads. What must not happen is serving stale data afterwards: windows in Redis missed
every write made during the outage, and so did any key changed meanwhile. Before switching back we delete
the configured stale prefixes and every key changed during the outage from Redis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

from storage.cache.base import Cache, CacheStats, CacheUnavailable, RateDecision
from storage.cache.memory import InProcessCache
from storage.health import Status, TierHealth

log = logging.getLogger(__name__)

T = TypeVar("T")

# Keys changed during an outage are remembered so their Redis copies can be dropped on return; past this
# many, the rest fall back on their TTL to stop an outage from growing memory without bound.
MAX_TRACKED_KEYS = 10_000

_DELETE_CHUNK = 500

PROBE_TASK_NAME = "kindred-cache-probe"


class FailoverCache:
    """The cache contract over Redis that falls back to an in-process cache while Redis is unreachable."""

    def __init__(
        self,
        primary: Cache,
        fallback: InProcessCache,
        *,
        reconnect_interval_s: float = 5.0,
        stale_prefixes: Sequence[str] = ("win:",),
    ) -> None:
        if reconnect_interval_s <= 0:
            raise ValueError("reconnect_interval_s must be positive")
        self.backend: str = primary.backend
        self._primary = primary
        self._fallback = fallback
        self._interval = reconnect_interval_s
        self._stale_prefixes = tuple(stale_prefixes)
        self._degraded = False
        self._outages = 0
        self._latency_ms: float | None = None
        self._probe: asyncio.Task[None] | None = None
        self._probe_error_logged = False
        self._closed = False
        self._touched_keys: set[str] = set()
        self._touched_prefixes: set[str] = set()
        self._touched_overflow = False

    @property
    def degraded(self) -> bool:
        """Return whether the in-process cache is standing in for Redis."""
        return self._degraded

    # ------------------------------------------------------------ switching

    async def _run(
        self,
        op: Callable[[Cache], Awaitable[T]],
        *,
        touches: Iterable[str] = (),
        touches_prefix: str | None = None,
    ) -> T:
        if not self._degraded:
            try:
                return await op(self._primary)
            except CacheUnavailable as exc:
                self._enter_degraded(exc)
        self._remember(touches, touches_prefix)
        return await op(self._fallback)

    def _enter_degraded(self, exc: CacheUnavailable) -> None:
        # Several operations can fail at once when Redis goes; only the first one switches and logs.
        if self._degraded:
            return
        self._degraded = True
        self._outages += 1
        self._latency_ms = None
        self.backend = self._fallback.backend
        log.warning(
            "Redis cache is unreachable (%s); the in-process cache serves until it answers again", exc
        )
        if not self._closed and (self._probe is None or self._probe.done()):
            self._probe = asyncio.get_running_loop().create_task(self._probe_loop(), name=PROBE_TASK_NAME)

    def _remember(self, keys: Iterable[str], prefix: str | None) -> None:
        if prefix is not None:
            self._touched_prefixes.add(prefix)
        for key in keys:
            if key.startswith(self._stale_prefixes) or key in self._touched_keys:
                continue
            if len(self._touched_keys) >= MAX_TRACKED_KEYS:
                self._touched_overflow = True
                return
            self._touched_keys.add(key)

    async def _probe_loop(self) -> None:
        while self._degraded:
            await asyncio.sleep(self._interval)
            try:
                await self.try_reconnect()
            except Exception:
                # A bug here must not end the probing, or the bot would stay degraded for good.
                if not self._probe_error_logged:
                    self._probe_error_logged = True
                    log.exception("reconnecting the Redis cache failed unexpectedly; still retrying")

    async def _purge_stale(self) -> int:
        removed = 0
        for prefix in self._stale_prefixes:
            removed += await self._primary.delete_prefix(prefix)
        # Operations keep landing on the fallback while we purge, so repeat until nothing new came in.
        while self._touched_keys or self._touched_prefixes:
            keys, prefixes = list(self._touched_keys), list(self._touched_prefixes)
            for prefix in prefixes:
                removed += await self._primary.delete_prefix(prefix)
            for start in range(0, len(keys), _DELETE_CHUNK):
                removed += await self._primary.delete(*keys[start : start + _DELETE_CHUNK])
            # Forgotten only once deleted, so an attempt that fails halfway leaves them for the next one.
            self._touched_keys.difference_update(keys)
            self._touched_prefixes.difference_update(prefixes)
        return removed

    async def try_reconnect(self) -> bool:
        """Try Redis once; when it answers, purge what went stale there and switch back to it."""
        if not self._degraded:
            return True
        try:
            latency_ms = await self._primary.ping()
            purged = await self._purge_stale()
        except CacheUnavailable as exc:
            log.debug("Redis cache still unreachable: %s", exc)
            return False
        if not self._degraded:
            return True
        if self._touched_overflow:
            log.warning(
                "more than %s keys changed while Redis was away; Redis copies of the rest may be stale "
                "until their TTL",
                MAX_TRACKED_KEYS,
            )
            self._touched_overflow = False
        self._degraded = False
        self._latency_ms = latency_ms
        self._probe_error_logged = False
        self.backend = self._primary.backend
        # The next outage must start cold, not serve what this one left behind.
        self._fallback.clear()
        log.info("Redis cache answers again; dropped %s stale keys there and switched back to it", purged)
        return True

    async def start(self) -> None:
        """Check Redis once, so an outage at startup shows in health before the first operation."""
        await self.ping()

    # ------------------------------------------------------------ the contract

    async def get(self, key: str) -> str | None:
        """Return the string stored at ``key``, or None."""
        return await self._run(lambda cache: cache.get(key))

    async def set(self, key: str, value: str, ttl_s: float | None = None) -> None:
        """Store ``value`` at ``key`` for ``ttl_s`` seconds (the default TTL when None)."""
        await self._run(lambda cache: cache.set(key, value, ttl_s), touches=(key,))

    async def delete(self, *keys: str) -> int:
        """Delete ``keys``; return how many existed."""
        return await self._run(lambda cache: cache.delete(*keys), touches=keys)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix``; return how many went."""
        return await self._run(lambda cache: cache.delete_prefix(prefix), touches_prefix=prefix)

    async def keys_with_segment(self, segment: str) -> list[str]:
        """Return the keys with ``segment`` as one of their parts in whichever cache is serving."""
        return await self._run(lambda cache: cache.keys_with_segment(segment))

    async def delete_segment(self, segment: str) -> int:
        """Delete the keys with ``segment`` in both caches; raise CacheUnavailable while Redis is away.

        Forget-me must reach Redis itself, so unlike other writes this one is not done until Redis answers:
        the caller retries it (a durable job) once Redis is back.
        """
        removed = await self._fallback.delete_segment(segment)
        if self._degraded:
            raise CacheUnavailable("Redis is unreachable; its keys are deleted when it returns")
        try:
            return removed + await self._primary.delete_segment(segment)
        except CacheUnavailable as exc:
            self._enter_degraded(exc)
            raise

    async def push_window(
        self, key: str, item: str, max_len: int, ttl_s: float | None = None, *, create: bool = True
    ) -> None:
        """Append ``item`` to a window keeping only the newest ``max_len`` items."""
        await self._run(
            lambda cache: cache.push_window(key, item, max_len, ttl_s, create=create), touches=(key,)
        )

    async def read_window(self, key: str, limit: int | None = None) -> list[str] | None:
        """Return up to ``limit`` newest items, oldest first; None when the window is not cached."""
        return await self._run(lambda cache: cache.read_window(key, limit))

    async def fill_window(self, key: str, items: list[str], max_len: int, ttl_s: float | None = None) -> None:
        """Replace a window with ``items`` (oldest first), e.g. after loading it from SQL."""
        await self._run(lambda cache: cache.fill_window(key, items, max_len, ttl_s), touches=(key,))

    async def take_tokens(
        self, key: str, capacity: float, refill_per_s: float, cost: float = 1.0
    ) -> RateDecision:
        """Take ``cost`` tokens from a token bucket that refills continuously."""
        return await self._run(lambda cache: cache.take_tokens(key, capacity, refill_per_s, cost))

    async def acquire_lock(self, key: str, ttl_s: float) -> str | None:
        """Take a lock if free; return its token, or None when someone else holds it."""
        return await self._run(lambda cache: cache.acquire_lock(key, ttl_s))

    async def release_lock(self, key: str, token: str) -> bool:
        """Release a lock only if ``token`` still owns it."""
        released = await self._run(lambda cache: cache.release_lock(key, token))
        if not released and not self._degraded:
            # A lock taken during the outage lives in the fallback; let its holder release it afterwards.
            released = await self._fallback.release_lock(key, token)
        return released

    def stats(self) -> CacheStats:
        """Return hits and misses across Redis and the fallback."""
        primary, fallback = self._primary.stats(), self._fallback.stats()
        return CacheStats(hits=primary.hits + fallback.hits, misses=primary.misses + fallback.misses)

    async def ping(self) -> float:
        """Return the round-trip time to whichever cache is serving, in milliseconds."""
        if not self._degraded:
            try:
                self._latency_ms = await self._primary.ping()
                return self._latency_ms
            except CacheUnavailable as exc:
                self._enter_degraded(exc)
        return await self._fallback.ping()

    # ------------------------------------------------------------ state

    def shrink(self, fraction: float) -> int:
        """Shrink the in-process fallback (Redis bounds its own memory); return how many entries went."""
        return self._fallback.shrink(fraction)

    def health(self) -> TierHealth:
        """Report which cache is serving and whether Redis is reachable."""
        stats = self.stats()
        extra = {
            "configured": self._primary.backend,
            "outages": self._outages,
            "hits": stats.hits,
            "misses": stats.misses,
        }
        if self._degraded:
            return TierHealth(
                tier="cache",
                backend=self._fallback.backend,
                status=Status.DEGRADED,
                detail="Redis is unreachable; the in-process cache is serving until it returns",
                extra=extra,
            )
        return TierHealth(
            tier="cache",
            backend=self._primary.backend,
            status=Status.OK,
            latency_ms=self._latency_ms,
            extra=extra,
        )

    async def close(self) -> None:
        """Stop probing and close both caches."""
        self._closed = True
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)
            self._probe = None
        await self._primary.close()
        await self._fallback.close()
