"""The embedded cache: one process, no server, the same contract as Redis.

Every method body runs without awaiting, so under one event loop each operation is atomic and no
asyncio lock is needed. A key holds one kind of value (string, window, bucket or lock); the storage
service keeps kinds apart by key prefix, and a read of the wrong kind sees nothing.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from storage.cache.base import CacheStats, RateDecision, has_segment
from storage.health import Status, TierHealth

log = logging.getLogger(__name__)

# A full pass over the entries is O(n); doing it at most this often keeps it cheap while still
# returning memory held by keys nobody reads again.
SWEEP_INTERVAL_S = 30.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(slots=True)
class _Lock:
    token: str


_Value = str | deque[str] | _Bucket | _Lock


@dataclass(slots=True)
class _Entry:
    value: _Value
    expires_at: float | None


class InProcessCache:
    """A bounded LRU cache with TTLs, windows, token buckets and locks, living in this process."""

    def __init__(
        self,
        max_entries: int = 10_000,
        default_ttl_s: float | None = 600.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.backend: str = "memory"
        self._max_entries = max_entries
        self._default_ttl_s = default_ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._next_sweep = clock() + SWEEP_INTERVAL_S

    # ------------------------------------------------------------ plumbing

    def _expiry(self, ttl_s: float | None) -> float | None:
        ttl = self._default_ttl_s if ttl_s is None else ttl_s
        if ttl is None:
            return None
        if ttl <= 0:
            raise ValueError("ttl_s must be positive")
        return self._clock() + ttl

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def _store(self, key: str, value: _Value, expires_at: float | None) -> None:
        self._entries[key] = _Entry(value, expires_at)
        self._entries.move_to_end(key)
        now = self._clock()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_INTERVAL_S
            self.purge_expired()
        while len(self._entries) > self._max_entries:
            if not self._evict_oldest():
                break

    def _evictable(self, entry: _Entry, now: float) -> bool:
        # Dropping a held lock would let a second holder in; it leaves by release or TTL instead.
        if not isinstance(entry.value, _Lock):
            return True
        return entry.expires_at is not None and entry.expires_at <= now

    def _evict_oldest(self) -> bool:
        now = self._clock()
        for key, entry in self._entries.items():
            if self._evictable(entry, now):
                del self._entries[key]
                self._evictions += 1
                return True
        return False

    # ------------------------------------------------------------ key/value

    async def get(self, key: str) -> str | None:
        """Return the string stored at ``key``, or None."""
        entry = self._live(key)
        if entry is not None and isinstance(entry.value, str):
            self._hits += 1
            return entry.value
        self._misses += 1
        return None

    async def set(self, key: str, value: str, ttl_s: float | None = None) -> None:
        """Store ``value`` at ``key`` for ``ttl_s`` seconds (the default TTL when None)."""
        self._store(key, value, self._expiry(ttl_s))

    async def delete(self, *keys: str) -> int:
        """Delete ``keys``; return how many existed."""
        removed = 0
        for key in keys:
            if self._live(key) is not None:
                del self._entries[key]
                removed += 1
        return removed

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix``; return how many went."""
        now = self._clock()
        removed = 0
        for key in [k for k in self._entries if k.startswith(prefix)]:
            entry = self._entries.pop(key)
            if entry.expires_at is None or entry.expires_at > now:
                removed += 1
        return removed

    async def keys_with_segment(self, segment: str) -> list[str]:
        """Return every live key with ``segment`` as one of its parts."""
        return [k for k in list(self._entries) if has_segment(k, segment) and self._live(k) is not None]

    async def delete_segment(self, segment: str) -> int:
        """Delete every key with ``segment`` as one of its parts; return how many went."""
        return await self.delete(*await self.keys_with_segment(segment))

    # ------------------------------------------------------------ windows

    async def push_window(
        self, key: str, item: str, max_len: int, ttl_s: float | None = None, *, create: bool = True
    ) -> None:
        """Append ``item`` to a window keeping only the newest ``max_len`` items."""
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        entry = self._live(key)
        if entry is not None and isinstance(entry.value, deque):
            window = entry.value
            if window.maxlen != max_len:
                window = deque(window, maxlen=max_len)
        elif not create:
            return
        else:
            window = deque(maxlen=max_len)
        window.append(item)
        self._store(key, window, self._expiry(ttl_s))

    async def read_window(self, key: str, limit: int | None = None) -> list[str] | None:
        """Return up to ``limit`` newest items, oldest first; None when the window is not cached."""
        entry = self._live(key)
        if entry is None or not isinstance(entry.value, deque):
            self._misses += 1
            return None
        self._hits += 1
        items = list(entry.value)
        if limit is None:
            return items
        return items[-limit:] if limit > 0 else []

    async def fill_window(self, key: str, items: list[str], max_len: int, ttl_s: float | None = None) -> None:
        """Replace a window with ``items`` (oldest first), e.g. after loading it from SQL."""
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        self._store(key, deque(items, maxlen=max_len), self._expiry(ttl_s))

    # ------------------------------------------------------------ rate limits

    async def take_tokens(
        self, key: str, capacity: float, refill_per_s: float, cost: float = 1.0
    ) -> RateDecision:
        """Take ``cost`` tokens from a token bucket that refills continuously."""
        if capacity <= 0 or refill_per_s <= 0 or cost < 0:
            raise ValueError("capacity and refill_per_s must be positive and cost not negative")
        now = self._clock()
        entry = self._live(key)
        if entry is not None and isinstance(entry.value, _Bucket):
            bucket = entry.value
            elapsed = max(0.0, now - bucket.updated)
            tokens = min(capacity, bucket.tokens + elapsed * refill_per_s)
        else:
            tokens = capacity
        if tokens >= cost:
            tokens -= cost
            decision = RateDecision(allowed=True, remaining=tokens, retry_after_s=0.0)
        else:
            wait = (cost - tokens) / refill_per_s if cost <= capacity else math.inf
            decision = RateDecision(allowed=False, remaining=tokens, retry_after_s=wait)
        # Once full again the bucket is indistinguishable from a new one, so it may go then.
        refill_s = (capacity - tokens) / refill_per_s
        self._store(key, _Bucket(tokens, now), now + refill_s + 1.0)
        return decision

    # ------------------------------------------------------------ locks

    async def acquire_lock(self, key: str, ttl_s: float) -> str | None:
        """Take a lock if free; return its token, or None when someone else holds it."""
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        if self._live(key) is not None:
            return None
        token = secrets.token_hex(16)
        self._store(key, _Lock(token), self._clock() + ttl_s)
        return token

    async def release_lock(self, key: str, token: str) -> bool:
        """Release a lock only if ``token`` still owns it."""
        entry = self._live(key)
        if entry is None or not isinstance(entry.value, _Lock) or entry.value.token != token:
            return False
        del self._entries[key]
        return True

    # ------------------------------------------------------------ upkeep and state

    def purge_expired(self) -> int:
        """Drop every expired entry now; return how many went."""
        now = self._clock()
        expired = [k for k, e in self._entries.items() if e.expires_at is not None and e.expires_at <= now]
        for key in expired:
            del self._entries[key]
        return len(expired)

    def shrink(self, fraction: float) -> int:
        """Drop expired entries, then the least recently used ``fraction`` of the rest; return the count."""
        if not 0 < fraction <= 1:
            raise ValueError("fraction must be in (0, 1]")
        removed = self.purge_expired()
        target = math.ceil(len(self._entries) * fraction)
        dropped = 0
        while dropped < target and self._evict_oldest():
            dropped += 1
        if removed + dropped:
            log.info("in-process cache shrunk by %s entries (%s expired)", removed + dropped, removed)
        return removed + dropped

    def clear(self) -> int:
        """Drop every entry except held locks; return how many went."""
        now = self._clock()
        doomed = [k for k, e in self._entries.items() if self._evictable(e, now)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def degraded(self) -> bool:
        """Return False: the in-process cache has nothing to lose contact with."""
        return False

    def stats(self) -> CacheStats:
        """Return the hit and miss counts since start."""
        return CacheStats(hits=self._hits, misses=self._misses)

    def health(self) -> TierHealth:
        """Report the in-process cache, which is always available."""
        return TierHealth(
            tier="cache",
            backend=self.backend,
            status=Status.OK,
            latency_ms=0.0,
            extra={
                "entries": len(self._entries),
                "max_entries": self._max_entries,
                "evictions": self._evictions,
                "hits": self._hits,
                "misses": self._misses,
            },
        )

    async def ping(self) -> float:
        """Return 0: there is no round trip."""
        return 0.0

    async def close(self) -> None:
        """Drop everything; the cache is disposable."""
        self._entries.clear()
