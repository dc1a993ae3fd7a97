"""Point-in-time metrics, read from the storage service when they are needed rather than on the hot path.

Counters and histograms are updated where things happen (a turn, an LLM call, a job). Gauges that describe
state (cache hit ratio, queue depth and lag, SQL pool use, tier health) are refreshed here, just before
``/metrics`` is served and before the alert monitor evaluates, so a turn pays nothing for them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot import metrics
from storage.health import Status, TierHealth
from storage.service import StorageService

log = logging.getLogger(__name__)

TIER_VALUE = {Status.OK: 1.0, Status.DEGRADED: 0.5, Status.DOWN: 0.0}


@dataclass(frozen=True, slots=True)
class Readings:
    """The state the gauges were last set from (the alert monitor reads the same numbers)."""

    cache_hits: int  # counted since start, across cache restarts: only ever grows
    cache_misses: int
    queue_depth: int | None
    queue_lag_s: float | None
    pool_usage: float | None


def pool_usage(engine: Any) -> tuple[int, float] | None:
    """Return (connections in use, share of the pool's capacity in use); None for an unbounded pool."""
    pool = engine.sync_engine.pool
    size, checked_out = getattr(pool, "size", None), getattr(pool, "checkedout", None)
    if not callable(size) or not callable(checked_out):
        return None  # NullPool, StaticPool: nothing to run out of
    capacity = int(size()) + max(int(getattr(pool, "_max_overflow", 0)), 0)
    in_use = int(checked_out())
    return in_use, (in_use / capacity if capacity else 0.0)


class GaugeRefresher:
    """Sets the state gauges from the storage service; remembers what it last saw for counter deltas."""

    def __init__(self, storage: StorageService) -> None:
        self.storage = storage
        self._cache_seen = (0, 0)
        self._counted = [0, 0]  # hits and misses since start, never decreasing

    async def refresh(self, health: list[TierHealth] | None = None) -> Readings:
        """Read the cache, queue, pool and (when given) tier health into the gauges; return the readings."""
        stats = self.storage.cache.stats()
        metrics.CACHE_HIT_RATIO.set(stats.hit_ratio)
        seen_hits, seen_misses = self._cache_seen
        # A cache object replaced after a reconnect may restart its counts; never count backwards.
        new_hits, new_misses = max(stats.hits - seen_hits, 0), max(stats.misses - seen_misses, 0)
        metrics.CACHE_LOOKUPS.labels("hit").inc(new_hits)
        metrics.CACHE_LOOKUPS.labels("miss").inc(new_misses)
        self._cache_seen = (stats.hits, stats.misses)
        self._counted[0] += new_hits
        self._counted[1] += new_misses

        depth: int | None = None
        lag: float | None = None
        try:
            queue = await self.storage.jobs.stats()
        except Exception as exc:  # the queue's tier may be down; the tier gauge says so
            log.debug("queue stats unavailable: %s", type(exc).__name__)
        else:
            depth, lag = queue.depth, queue.oldest_pending_age_s or 0.0
            metrics.QUEUE_DEPTH.set(queue.depth)
            metrics.QUEUE_IN_FLIGHT.set(queue.in_flight)
            metrics.QUEUE_DEAD.set(queue.dead)
            metrics.QUEUE_LAG.set(lag)

        usage = pool_usage(self.storage.engine)
        if usage is not None:
            metrics.SQL_POOL_IN_USE.set(usage[0])
            metrics.SQL_POOL_USAGE.set(usage[1])

        for part in health or []:
            metrics.TIER_UP.labels(part.tier).set(TIER_VALUE[part.status])
        hits, misses = self._counted
        return Readings(hits, misses, depth, lag, None if usage is None else usage[1])
