"""In-process alerts: the Prometheus rules' thresholds, checked by the bot itself and posted to admins.

An operator without Prometheus still hears about a cold cache, slow replies, a full SQL pool, failing turns
or a queue that falls behind. Counts (cache lookups, turns, reply times) are compared across a sliding
window of snapshots, like ``rate()[5m]``; the pool and the queue lag are read as they are now. The same
alert is posted at most once per de-duplication window, and ``post()`` is open to other parts (the flags'
automatic rollback) so admins hear from one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

from bot import metrics
from bot.config import AlertSettings
from bot.ops.gauges import GaugeRefresher, Readings
from storage.health import TierHealth

log = logging.getLogger(__name__)

Clock = Callable[[], float]
HealthSource = Callable[[], Awaitable[list[TierHealth]]]
# Claims an alert key for ttl seconds across every process sharing the cache; False: another has it.
Claim = Callable[[str, float], Awaitable[bool]]


class AlertSink(Protocol):
    """Where alerts go: the Discord adapter posts them to a channel."""

    async def send_alert(self, channel_id: int, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Alert:
    """One threshold crossed: ``key`` names the rule (for de-duplication), ``text`` is what admins read."""

    key: str
    text: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Cumulative counts at one moment; two snapshots give a window's rates."""

    at: float
    cache_hits: int
    cache_misses: int
    turns_replied: float
    turns_failed: float
    replies: float
    replies_fast: float  # replies whose overhead was within the threshold's histogram bucket


class AlertMonitor:
    """Checks the thresholds every ``interval_s`` and posts what crossed them."""

    def __init__(
        self,
        settings: AlertSettings,
        refresher: GaugeRefresher,
        health: HealthSource | None = None,
        *,
        claim: Claim | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings
        self.refresher = refresher
        self.sink: AlertSink | None = None  # set by the Discord adapter once it is connected
        self._health = health
        self._claim = claim
        self._clock = clock
        self._snapshots: deque[Snapshot] = deque()
        self._lags: deque[float] = deque(maxlen=settings.queue_lag_rising_checks)
        self._posted: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ evaluation

    def snapshot(self, readings: Readings) -> Snapshot:
        """Take the cumulative counts the window rules compare."""
        replies, fast = metrics.histogram_counts(metrics.REPLY_OVERHEAD, self.settings.reply_overhead_max_s)
        return Snapshot(
            at=self._clock(),
            cache_hits=readings.cache_hits,
            cache_misses=readings.cache_misses,
            turns_replied=metrics.counter_total(metrics.TURNS, outcome="replied"),
            turns_failed=metrics.counter_total(metrics.TURNS, outcome="failed"),
            replies=replies,
            replies_fast=fast,
        )

    def check(self, readings: Readings) -> list[Alert]:
        """Record this reading and return every threshold it crosses (no posting, no de-duplication)."""
        s = self.settings
        now = self.snapshot(readings)
        self._snapshots.append(now)
        while len(self._snapshots) > 2 and self._snapshots[1].at <= now.at - s.window_s:
            self._snapshots.popleft()
        then = self._snapshots[0]
        alerts: list[Alert] = []

        lookups = (now.cache_hits - then.cache_hits) + (now.cache_misses - then.cache_misses)
        if lookups >= s.min_samples:
            ratio = (now.cache_hits - then.cache_hits) / lookups
            if ratio < s.cache_hit_ratio_min:
                alerts.append(
                    Alert(
                        "cache_hit_rate",
                        f"Cache hit rate is {ratio:.0%} over the last {lookups} lookups "
                        f"(threshold {s.cache_hit_ratio_min:.0%}). Is Redis evicting, or was it restarted?",
                    )
                )

        replies = now.replies - then.replies
        if replies >= s.min_samples:
            slow = (replies - (now.replies_fast - then.replies_fast)) / replies
            if slow > 0.05:  # more than 5% over the bound means the p95 is over it
                alerts.append(
                    Alert(
                        "reply_latency",
                        f"Replies are slow: {slow:.0%} of the last {replies:.0f} took Kindred more than "
                        f"{s.reply_overhead_max_s * 1000:.0f} ms of its own time (model time excluded).",
                    )
                )

        turns = (now.turns_replied - then.turns_replied) + (now.turns_failed - then.turns_failed)
        if turns >= s.min_samples:
            rate = (now.turns_failed - then.turns_failed) / turns
            if rate > s.error_rate_max:
                alerts.append(
                    Alert(
                        "error_rate",
                        f"{rate:.0%} of the last {turns:.0f} turns failed (threshold "
                        f"{s.error_rate_max:.0%}). Check `/admin model` and the logs.",
                    )
                )

        if readings.pool_usage is not None and readings.pool_usage > s.sql_pool_usage_max:
            alerts.append(
                Alert(
                    "sql_pool",
                    f"The SQL connection pool is {readings.pool_usage:.0%} used "
                    f"(threshold {s.sql_pool_usage_max:.0%}). "
                    "Raise storage.sql.pool_size or look for slow queries.",
                )
            )

        if readings.queue_lag_s is not None:
            self._lags.append(readings.queue_lag_s)
            lags = list(self._lags)
            rising = len(lags) == self._lags.maxlen and all(b > a for a, b in pairwise(lags))
            if rising and lags[-1] >= s.queue_lag_min_s:
                alerts.append(
                    Alert(
                        "queue_lag",
                        f"The job queue is falling behind: the oldest job has waited {lags[-1]:.0f} s and "
                        f"the wait grew over the last {len(lags)} checks. Add a worker (`kindred worker`).",
                    )
                )
        return alerts

    async def evaluate(self) -> list[Alert]:
        """Refresh the gauges, check every threshold and post the alerts; return the ones posted."""
        health = await self._health() if self._health is not None else None
        readings = await self.refresher.refresh(health)
        posted = []
        for alert in self.check(readings):
            if await self.post(alert.text, key=alert.key):
                posted.append(alert)
        return posted

    # ------------------------------------------------------------------ posting

    async def post(self, text: str, *, key: str | None = None) -> bool:
        """Tell admins ``text`` unless the same alert (``key``, else the text) went out within the window.

        Returns whether it was posted. Without a sink or channel it is logged only; a failing sink is logged
        and does not raise, so callers on other paths (flag rollback) are never disturbed by it.
        """
        dedupe = key or text
        now = self._clock()
        last = self._posted.get(dedupe)
        if last is not None and now - last < self.settings.dedupe_s:
            return False
        self._posted[dedupe] = now
        if not await self._first_across_processes(dedupe):
            return False
        log.warning("alert %s: %s", dedupe if key else "notice", text)
        channel = self.settings.channel_id
        if self.sink is not None and channel is not None:
            try:
                await self.sink.send_alert(channel, f"⚠️ {text}")
            except Exception as exc:
                log.warning("could not post an alert to channel %s: %s", channel, type(exc).__name__)
        return True

    async def _first_across_processes(self, dedupe: str) -> bool:
        # Shards and bot replicas check the same thresholds; the shared cache lets only one of them post.
        if self._claim is None or self.settings.dedupe_s <= 0:
            return True
        digest = hashlib.sha256(dedupe.encode()).hexdigest()[:24]
        try:
            return await self._claim(digest, self.settings.dedupe_s)
        except Exception as exc:  # the cache is away: this process's own memory still de-duplicates
            log.debug("alert de-duplication across processes unavailable: %s", type(exc).__name__)
            return True

    # ------------------------------------------------------------------ loop

    def start(self) -> None:
        """Check the thresholds every ``interval_s`` until stopped."""
        if self._task is None and self.settings.enabled:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="kindred-alerts")

    async def stop(self) -> None:
        """Stop checking."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.interval_s)
            try:
                await self.evaluate()
            except Exception:
                log.exception("alert check failed")
