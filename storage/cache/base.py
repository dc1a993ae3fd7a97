"""The cache tier's contract. Redis and the in-process cache both implement it; the same tests run on both.

Everything in the cache is disposable: SQL is the source of truth, so a lost key only costs a reload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol


class CacheUnavailable(Exception):
    """The cache backend cannot be reached right now."""


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of taking tokens from a bucket."""

    allowed: bool
    remaining: float
    retry_after_s: float


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class Cache(Protocol):
    """Key/value with TTL, bounded recent-item windows, token buckets and locks.

    Keys are plain strings chosen by the storage service; a backend adds its own prefix.
    Values are strings (callers serialise). Backends raise CacheUnavailable when they cannot answer.
    """

    backend: str

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl_s: float | None = None) -> None: ...

    async def delete(self, *keys: str) -> int: ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix``; return how many went."""
        ...

    async def keys_with_segment(self, segment: str) -> list[str]:
        """Return every live key with ``segment`` as one of its ``:``-separated parts (see has_segment)."""
        ...

    async def delete_segment(self, segment: str) -> int:
        """Delete every key with ``segment`` as one of its parts (forget-me); return how many went."""
        ...

    async def push_window(
        self, key: str, item: str, max_len: int, ttl_s: float | None = None, *, create: bool = True
    ) -> None:
        """Append ``item`` to a window keeping only the newest ``max_len`` items.

        An absent window is started with the item, unless ``create`` is False: then nothing happens,
        atomically (so a window never starts part-way through a conversation).
        ``ttl_s=None`` means the backend's default TTL.
        """
        ...

    async def read_window(self, key: str, limit: int | None = None) -> list[str] | None:
        """Return up to ``limit`` newest items, oldest first; None when the window is not cached."""
        ...

    async def fill_window(self, key: str, items: list[str], max_len: int, ttl_s: float | None = None) -> None:
        """Replace a window with ``items`` (oldest first), e.g. after loading it from SQL."""
        ...

    async def take_tokens(
        self, key: str, capacity: float, refill_per_s: float, cost: float = 1.0
    ) -> RateDecision:
        """Take ``cost`` tokens from a token bucket that refills continuously."""
        ...

    async def acquire_lock(self, key: str, ttl_s: float) -> str | None:
        """Take a lock if free; return its token, or None when someone else holds it."""
        ...

    async def release_lock(self, key: str, token: str) -> bool:
        """Release a lock only if ``token`` still owns it."""
        ...

    def stats(self) -> CacheStats: ...

    async def ping(self) -> float:
        """Return the round-trip time in milliseconds, or raise CacheUnavailable."""
        ...

    async def close(self) -> None: ...


def has_segment(key: str, segment: str) -> bool:
    """Return whether ``segment`` is a whole ``:``-separated part run of ``key``.

    Per-person keys carry the person's ``user_key`` as such a run (``win:discord.42:dm:-``), so
    ``discord.4`` never matches ``discord.42``.
    """
    if not segment:
        raise ValueError("a key segment must not be empty")
    return f":{segment}:" in f":{key}:"


@asynccontextmanager
async def held_lock(cache: Cache, key: str, ttl_s: float) -> AsyncIterator[bool]:
    """Hold ``key`` for the block if it is free; yields whether this caller got it."""
    token = await cache.acquire_lock(key, ttl_s)
    try:
        yield token is not None
    finally:
        if token is not None:
            await cache.release_lock(key, token)
