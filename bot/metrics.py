"""Prometheus metrics: one registry per process, the names every part of Kindred reports into.

Kept in one module so the names, labels and buckets are defined once; ``/metrics`` on the ops endpoint
serves ``REGISTRY``. Labels stay low-cardinality (model names, job types, kinds): never user or guild ids.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# Seconds: replies are judged against a 500 ms alert, the LLM against several seconds.
_REPLY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LLM_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 90.0)
_JOB_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0)

TURNS = Counter("kindred_turns", "Turns handled, by outcome", ["outcome"], registry=REGISTRY)
REPLY_LATENCY = Histogram(
    "kindred_reply_latency_seconds",
    "From a turn's start (after coalescing a burst) to its reply being delivered and recorded",
    buckets=_REPLY_BUCKETS,
    registry=REGISTRY,
)
REPLY_OVERHEAD = Histogram(
    "kindred_reply_overhead_seconds",
    "Kindred's own time per reply, the LLM's time excluded",
    buckets=_REPLY_BUCKETS,
    registry=REGISTRY,
)
LLM_LATENCY = Histogram(
    "kindred_llm_latency_seconds", "LLM call duration", ["model"], buckets=_LLM_BUCKETS, registry=REGISTRY
)
LLM_TOKENS = Counter(
    "kindred_llm_tokens", "Tokens sent and received", ["model", "direction"], registry=REGISTRY
)
LLM_ERRORS = Counter("kindred_llm_errors", "LLM call failures", ["model", "kind"], registry=REGISTRY)
CACHE_HIT_RATIO = Gauge("kindred_cache_hit_ratio", "Cache hits over lookups since start", registry=REGISTRY)
# The hit ratio since start hides a recent drop; these counters let rate() judge a window.
CACHE_LOOKUPS = Counter("kindred_cache_lookups", "Cache lookups, by result", ["result"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("kindred_queue_depth", "Background jobs waiting", registry=REGISTRY)
QUEUE_IN_FLIGHT = Gauge("kindred_queue_in_flight", "Background jobs being worked", registry=REGISTRY)
QUEUE_DEAD = Gauge("kindred_queue_dead_letters", "Background jobs in the dead-letter list", registry=REGISTRY)
QUEUE_LAG = Gauge("kindred_queue_lag_seconds", "Age of the oldest waiting job", registry=REGISTRY)
JOB_DURATION = Histogram(
    "kindred_job_duration_seconds",
    "Background job run time",
    ["job_type"],
    buckets=_JOB_BUCKETS,
    registry=REGISTRY,
)
JOB_FAILURES = Counter("kindred_job_failures", "Background job failures", ["job_type"], registry=REGISTRY)
SQL_POOL_IN_USE = Gauge("kindred_sql_pool_in_use", "SQL pool connections checked out", registry=REGISTRY)
SQL_POOL_USAGE = Gauge(
    "kindred_sql_pool_usage_ratio", "Share of SQL pool connections in use", registry=REGISTRY
)
CRISIS_EVENTS = Counter("kindred_crisis_events", "Crisis protocol activations", ["locale"], registry=REGISTRY)
ERRORS = Counter("kindred_errors", "Errors, by kind", ["kind"], registry=REGISTRY)
TIER_UP = Gauge(
    "kindred_tier_up", "1 when a storage tier is ok, 0.5 degraded, 0 down", ["tier"], registry=REGISTRY
)
FEATURE_ENABLED = Gauge(
    "kindred_feature_enabled", "1 when a runtime feature flag is on", ["flag"], registry=REGISTRY
)


def observe_turn(status: str, timings_ms: dict[str, float]) -> None:
    """Count a handled message by outcome; for a reply, observe its latency and Kindred's share of it."""
    TURNS.labels(status).inc()
    total = timings_ms.get("total_ms")
    if status == "replied" and total is not None:
        REPLY_LATENCY.observe(total / 1000)
        REPLY_OVERHEAD.observe(max(total - timings_ms.get("llm_ms", 0.0), 0.0) / 1000)


class ModelMetrics:
    """One model's LLM series, bound once so that a call costs a few additions."""

    def __init__(self, model: str) -> None:
        self.model = model
        self._latency = LLM_LATENCY.labels(model)
        self._tokens_in = LLM_TOKENS.labels(model, "in")
        self._tokens_out = LLM_TOKENS.labels(model, "out")

    def success(self, seconds: float, tokens_in: int, tokens_out: int) -> None:
        """Record a finished call."""
        self._latency.observe(seconds)
        self._tokens_in.inc(tokens_in)
        self._tokens_out.inc(tokens_out)

    def failure(self, kind: str) -> None:
        """Record a failed call: timeout, failure (server or connection) or rate_limited."""
        LLM_ERRORS.labels(self.model, kind).inc()


def counter_total(counter: Counter, **labels: str) -> float:
    """Return a counter's total, summed over every series whose labels include ``labels``."""
    total = 0.0
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def histogram_counts(histogram: Histogram, le: float) -> tuple[float, float]:
    """Return (all observations, observations at or under the smallest bucket bound >= ``le``)."""
    count, within = 0.0, 0.0
    bound = float("inf")
    for family in histogram.collect():
        for sample in family.samples:
            if sample.name.endswith("_count"):
                count = sample.value
            elif sample.name.endswith("_bucket"):
                edge = float(sample.labels["le"])
                if le <= edge < bound:
                    bound, within = edge, sample.value
    return count, within
