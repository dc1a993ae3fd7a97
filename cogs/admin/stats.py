"""The numbers behind ``/admin stats``, read from this process's Prometheus registry and the job queue."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.metrics import MetricWrapperBase

from bot import metrics
from storage.service import StorageService

if TYPE_CHECKING:
    from bot.llm import LLMRouter


def _samples(metric: MetricWrapperBase, suffix: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in metric.collect()
        for sample in family.samples
        if sample.name == family.name + suffix
    ]


def total(metric: MetricWrapperBase, suffix: str = "_total", **labels: str) -> float:
    """Return the sum of a metric's samples over all label values (or those matching ``labels``)."""
    return sum(v for lbl, v in _samples(metric, suffix) if all(lbl.get(k) == w for k, w in labels.items()))


def histogram_quantile(metric: MetricWrapperBase, q: float) -> float | None:
    """Return the upper bound of the bucket holding the q-quantile (None without observations)."""
    buckets: dict[float, float] = {}
    for labels, value in _samples(metric, "_bucket"):
        bound = float(labels["le"])
        buckets[bound] = buckets.get(bound, 0.0) + value
    count = buckets.get(math.inf, 0.0)
    if count == 0:
        return None
    for bound in sorted(buckets):
        if buckets[bound] >= q * count:
            return bound
    return None


@dataclass(frozen=True, slots=True)
class Stats:
    messages: int
    replies: int
    reply_p50_s: float | None
    reply_p95_s: float | None
    cache_hit_ratio: float | None
    queue_depth: int
    queue_lag_s: float | None
    tokens_in: int
    tokens_out: int

    def render(self) -> str:
        """Return the numbers as a short message."""

        def seconds(value: float | None) -> str:
            if value is None:
                return "-"
            return "over 30 s" if math.isinf(value) else f"under {value * 1000:.0f} ms"

        hit = "-" if self.cache_hit_ratio is None else f"{self.cache_hit_ratio:.0%}"
        lag = "-" if self.queue_lag_s is None else f"{self.queue_lag_s:.0f} s"
        return (
            f"Since this process started: {self.messages} messages, {self.replies} replies "
            f"(latency p50 {seconds(self.reply_p50_s)}, p95 {seconds(self.reply_p95_s)}).\n"
            f"Cache hit rate {hit}. Queue: {self.queue_depth} waiting, oldest {lag}.\n"
            f"Tokens: {self.tokens_in:,} sent to models, {self.tokens_out:,} received."
        )


async def collect_stats(storage: StorageService, llm: LLMRouter | None) -> Stats:
    """Gather the stats from the metrics registry, the queue and the router."""
    queue = await storage.jobs.stats()
    hit_ratio: float | None = None
    lookups = getattr(metrics, "CACHE_LOOKUPS", None)
    if lookups is not None and total(lookups) > 0:
        hit_ratio = total(lookups, result="hit") / total(lookups)
    else:
        # The gauge reads 0 until something sets it; 0 then means "not measured", not "all misses".
        gauge = [value for _, value in _samples(metrics.CACHE_HIT_RATIO, "")]
        hit_ratio = gauge[0] if gauge and gauge[0] > 0 else None
    tokens_in = int(total(metrics.LLM_TOKENS, direction="in"))
    tokens_out = int(total(metrics.LLM_TOKENS, direction="out"))
    if llm is not None and tokens_in + tokens_out == 0:
        # The router counts tokens itself too, whether or not the metrics are wired.
        models = llm.snapshot().models
        tokens_in, tokens_out = sum(m.tokens_in for m in models), sum(m.tokens_out for m in models)
    return Stats(
        messages=int(total(metrics.TURNS)),
        replies=int(total(metrics.TURNS, outcome="replied")),
        reply_p50_s=histogram_quantile(metrics.REPLY_LATENCY, 0.5),
        reply_p95_s=histogram_quantile(metrics.REPLY_LATENCY, 0.95),
        cache_hit_ratio=hit_ratio,
        queue_depth=queue.depth,
        queue_lag_s=queue.oldest_pending_age_s,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
    )
