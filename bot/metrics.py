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
    "From a message's arrival to its reply being delivered",
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
