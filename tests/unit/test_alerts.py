"""In-process alerts: each threshold, once per de-duplication window, posted through the sink."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import Counter, Histogram

from bot import metrics
from bot.config import AlertSettings
from bot.metrics import counter_total, histogram_counts
from bot.ops.alerts import AlertMonitor
from bot.ops.gauges import Readings
from storage.cache.memory import InProcessCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingSink:
    def __init__(self, fail: bool = False) -> None:
        self.posts: list[tuple[int, str]] = []
        self.fail = fail

    async def send_alert(self, channel_id: int, text: str) -> None:
        if self.fail:
            raise ConnectionError("Discord is unreachable")
        self.posts.append((channel_id, text))


class StaticRefresher:
    """Stands in for GaugeRefresher: hands the monitor the readings a test sets."""

    def __init__(self) -> None:
        self.readings = readings()

    async def refresh(self, health: Any = None) -> Readings:
        return self.readings


def readings(hits: int = 0, misses: int = 0, lag: float | None = None, pool: float | None = None) -> Readings:
    return Readings(hits, misses, None, lag, pool)


def monitor(clock: Clock, **overrides: Any) -> tuple[AlertMonitor, StaticRefresher, RecordingSink]:
    settings = AlertSettings(channel_id=42, min_samples=10, **overrides)
    refresher = StaticRefresher()
    alerts = AlertMonitor(settings, refresher, clock=clock)  # type: ignore[arg-type]
    sink = RecordingSink()
    alerts.sink = sink
    return alerts, refresher, sink


def keys(found: list[Any]) -> list[str]:
    return [alert.key for alert in found]


def test_cache_hit_rate_under_the_threshold_fires() -> None:
    alerts, _, _ = monitor(Clock())
    assert alerts.check(readings(hits=100, misses=0)) == []
    assert keys(alerts.check(readings(hits=160, misses=40))) == ["cache_hit_rate"]  # 60 of 100: 60%


def test_cache_hit_rate_above_the_threshold_is_quiet() -> None:
    alerts, _, _ = monitor(Clock())
    alerts.check(readings(hits=0, misses=0))
    assert alerts.check(readings(hits=80, misses=20)) == []


def test_too_few_lookups_give_no_verdict() -> None:
    alerts, _, _ = monitor(Clock())
    alerts.check(readings(hits=0, misses=0))
    assert alerts.check(readings(hits=1, misses=8)) == []


def test_the_window_forgets_old_counts() -> None:
    clock = Clock()
    alerts, _, _ = monitor(clock, window_s=300)
    alerts.check(readings(hits=0, misses=0))
    clock.now += 60
    alerts.check(readings(hits=0, misses=100))  # a cold start: all misses
    clock.now += 400
    alerts.check(readings(hits=1000, misses=100))
    clock.now += 60
    # Judged from the reading 400 s ago on: 1000 hits, 0 misses; the cold start has left the window.
    assert alerts.check(readings(hits=1100, misses=100)) == []


def test_failing_turns_over_five_percent_fire() -> None:
    alerts, _, _ = monitor(Clock())
    alerts.check(readings())
    metrics.TURNS.labels("replied").inc(18)
    metrics.TURNS.labels("failed").inc(2)
    assert "error_rate" in keys(alerts.check(readings()))


def test_slow_replies_fire_on_kindreds_own_time() -> None:
    alerts, _, _ = monitor(Clock())
    alerts.check(readings())
    for _ in range(18):
        metrics.observe_turn("replied", {"total_ms": 3000.0, "llm_ms": 2900.0})  # 100 ms our own
    for _ in range(2):
        metrics.observe_turn("replied", {"total_ms": 3000.0, "llm_ms": 2000.0})  # 1 s our own
    assert "reply_latency" in keys(alerts.check(readings()))


def test_model_time_does_not_make_a_reply_slow() -> None:
    alerts, _, _ = monitor(Clock())
    alerts.check(readings())
    for _ in range(20):
        metrics.observe_turn("replied", {"total_ms": 9000.0, "llm_ms": 8950.0})
    assert "reply_latency" not in keys(alerts.check(readings()))


def test_a_full_sql_pool_fires() -> None:
    alerts, _, _ = monitor(Clock())
    assert keys(alerts.check(readings(pool=0.9))) == ["sql_pool"]
    assert alerts.check(readings(pool=0.5)) == []


def test_queue_lag_fires_only_when_it_keeps_growing_past_the_minimum() -> None:
    alerts, _, _ = monitor(Clock(), queue_lag_rising_checks=3, queue_lag_min_s=60)
    assert alerts.check(readings(lag=50)) == []
    assert alerts.check(readings(lag=70)) == []
    assert keys(alerts.check(readings(lag=90))) == ["queue_lag"]
    assert alerts.check(readings(lag=20)) == []  # caught up


def test_a_small_growing_lag_is_not_worth_a_post() -> None:
    alerts, _, _ = monitor(Clock(), queue_lag_rising_checks=3, queue_lag_min_s=60)
    for lag in (1, 2, 3):
        found = alerts.check(readings(lag=lag))
    assert found == []


async def test_an_alert_is_posted_once_per_window() -> None:
    clock = Clock()
    alerts, refresher, sink = monitor(clock, dedupe_s=3600)
    refresher.readings = readings(pool=0.95)
    assert keys(await alerts.evaluate()) == ["sql_pool"]
    clock.now += 600
    assert await alerts.evaluate() == []
    assert len(sink.posts) == 1
    channel, text = sink.posts[0]
    assert channel == 42 and "95%" in text
    clock.now += 3600
    assert keys(await alerts.evaluate()) == ["sql_pool"]
    assert len(sink.posts) == 2


async def test_post_is_shared_with_other_parts_and_deduplicated_by_text() -> None:
    alerts, _, sink = monitor(Clock())
    assert await alerts.post("flag fast_path switched off: 12% errors")
    assert not await alerts.post("flag fast_path switched off: 12% errors")
    assert [text for _, text in sink.posts] == ["⚠️ flag fast_path switched off: 12% errors"]


async def test_without_a_channel_an_alert_is_logged_only(caplog: pytest.LogCaptureFixture) -> None:
    alerts = AlertMonitor(AlertSettings(), StaticRefresher(), clock=Clock())  # type: ignore[arg-type]
    sink = RecordingSink()
    alerts.sink = sink
    assert await alerts.post("disk nearly full", key="disk")
    assert sink.posts == []
    assert any("disk nearly full" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


async def test_a_failing_sink_does_not_raise() -> None:
    alerts, _, _ = monitor(Clock())
    alerts.sink = RecordingSink(fail=True)
    assert await alerts.post("something happened")


def test_counter_total_sums_matching_series() -> None:
    counter = Counter("test_things", "things", ["kind"], registry=None)
    counter.labels("a").inc(2)
    counter.labels("b").inc(3)
    assert counter_total(counter) == 5
    assert counter_total(counter, kind="b") == 3


def test_histogram_counts_use_the_bucket_at_the_bound() -> None:
    histogram = Histogram("test_seconds", "seconds", buckets=(0.1, 0.5, 1.0), registry=None)
    for seconds in (0.05, 0.3, 0.5, 0.7):
        histogram.observe(seconds)
    assert histogram_counts(histogram, 0.5) == (4, 3)
    assert histogram_counts(histogram, 0.4) == (4, 3)  # no 0.4 bucket: the next bound up, 0.5


async def test_processes_sharing_a_cache_post_an_alert_once() -> None:
    cache = InProcessCache()

    async def claim(key: str, ttl_s: float) -> bool:
        return await cache.acquire_lock(f"once:alert:{key}", ttl_s) is not None

    shards = []
    for _ in range(2):
        alerts = AlertMonitor(AlertSettings(channel_id=7), StaticRefresher(), claim=claim, clock=Clock())  # type: ignore[arg-type]
        alerts.sink = RecordingSink()
        shards.append(alerts)
    assert await shards[0].post("pool full", key="sql_pool")
    assert not await shards[1].post("pool full", key="sql_pool")
    assert [len(s.sink.posts) for s in shards if isinstance(s.sink, RecordingSink)] == [1, 0]


async def test_a_failing_shared_claim_falls_back_to_this_process() -> None:
    async def broken(key: str, ttl_s: float) -> bool:
        raise ConnectionError("redis is away")

    alerts = AlertMonitor(AlertSettings(), StaticRefresher(), claim=broken, clock=Clock())  # type: ignore[arg-type]
    assert await alerts.post("pool full", key="sql_pool")
    assert not await alerts.post("pool full", key="sql_pool")
