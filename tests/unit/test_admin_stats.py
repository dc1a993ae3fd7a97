"""/admin stats reads quantiles and totals out of prometheus-client metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from cogs.admin.stats import Stats, histogram_quantile, total


def test_totals_sum_over_labels_or_just_the_matching_ones() -> None:
    registry = CollectorRegistry()
    turns = Counter("t_turns", "turns", ["outcome"], registry=registry)
    turns.labels("replied").inc(3)
    turns.labels("failed").inc(1)
    assert total(turns) == 4
    assert total(turns, outcome="replied") == 3


def test_histogram_quantile_is_the_bucket_bound_holding_the_rank() -> None:
    registry = CollectorRegistry()
    latency = Histogram("t_latency", "latency", buckets=(0.1, 0.5, 1.0), registry=registry)
    assert histogram_quantile(latency, 0.5) is None
    for value in [0.05] * 6 + [0.3] * 3 + [0.9]:
        latency.observe(value)
    assert histogram_quantile(latency, 0.5) == 0.1
    assert histogram_quantile(latency, 0.95) == 1.0


def test_stats_render_every_number() -> None:
    text = Stats(12, 10, 0.1, 0.5, 0.82, 3, 4.0, 1500, 300).render()
    for part in (
        "12 messages",
        "10 replies",
        "p50 under 100 ms",
        "p95 under 500 ms",
        "82%",
        "3 waiting",
        "1,500",
    ):
        assert part in text
