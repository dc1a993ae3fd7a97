"""The cache tier: Redis or an in-process cache behind one interface, with failover from one to the other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from storage.cache.base import Cache, CacheStats, CacheUnavailable, RateDecision, held_lock
from storage.cache.failover import FailoverCache
from storage.cache.memory import InProcessCache
from storage.config import CacheSettings

if TYPE_CHECKING:
    from storage.cache.redis import RedisCache

__all__ = [
    "Cache",
    "CacheStats",
    "CacheUnavailable",
    "FailoverCache",
    "InProcessCache",
    "RateDecision",
    "RedisCache",
    "held_lock",
    "make_cache",
]


def __getattr__(name: str) -> Any:
    # The Redis client (with the OpenTelemetry modules it pulls in) is about 7 MB of resident memory that
    # the in-process cache, the embedded default, never uses: it is imported only when asked for.
    if name == "RedisCache":
        from storage.cache.redis import RedisCache

        return RedisCache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_cache(
    settings: CacheSettings, stale_prefixes: Sequence[str] = ("win:",)
) -> FailoverCache | InProcessCache:
    """Build the configured cache: in-process, or Redis that falls back to in-process while unreachable."""
    fallback = InProcessCache(max_entries=settings.max_entries, default_ttl_s=settings.default_ttl_s)
    if settings.backend == "memory":
        return fallback
    from storage.cache.redis import RedisCache

    primary = RedisCache(
        settings.redis_url, key_prefix=settings.key_prefix, default_ttl_s=settings.default_ttl_s
    )
    return FailoverCache(
        primary,
        fallback,
        reconnect_interval_s=settings.reconnect_interval_s,
        stale_prefixes=stale_prefixes,
    )
