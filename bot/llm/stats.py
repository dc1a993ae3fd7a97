"""Per-model call statistics: latency percentiles, error rate and token counts over a sliding window."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bot import metrics

Clock = Callable[[], float]


def percentile(values: list[float], pct: float) -> float | None:
    """Return the nearest-rank percentile of values (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


class _Window:
    """Timestamped samples, bounded in age and in count."""

    def __init__(self, window_s: float, max_samples: int, clock: Clock) -> None:
        self.window_s = window_s
        self._clock = clock
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_samples)

    def add(self, value: float) -> None:
        self._samples.append((self._clock(), value))

    def values(self) -> list[float]:
        horizon = self._clock() - self.window_s
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()
        return [value for _, value in self._samples]


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles of one latency measure, in milliseconds."""

    p50_ms: float | None
    p95_ms: float | None
    samples: int


@dataclass(frozen=True)
class ModelSnapshot:
    """A point-in-time view of one model, for admin commands and metrics."""

    name: str
    model: str
    vision: bool
    primary: bool
    state: str
    available: bool
    retry_in_s: float
    rate_limited_for_s: float
    calls: int
    successes: int
    failures: int
    rate_limited: int
    timeouts: int
    error_rate: float
    first_token: LatencySummary
    total: LatencySummary
    tokens_in: int
    tokens_out: int


@dataclass(frozen=True)
class RouterSnapshot:
    """A point-in-time view of the whole chain, in the order the next call would try it."""

    primary: str | None
    order: list[str]
    models: list[ModelSnapshot] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the snapshot as plain data (for JSON and metrics exporters)."""
        return asdict(self)


class ModelStats:
    """Counters and sliding-window latencies of one model."""

    def __init__(
        self,
        window_s: float = 600.0,
        max_samples: int = 500,
        clock: Clock | None = None,
        model: str | None = None,
    ) -> None:
        self._clock = clock or time.monotonic
        # Given a model name, calls are also exported to Prometheus under that label.
        self._export = metrics.ModelMetrics(model) if model else None
        self.calls = 0
        self.successes = 0
        self.failures = 0
        self.rate_limited = 0
        self.timeouts = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self._first_token = _Window(window_s, max_samples, self._clock)
        self._total = _Window(window_s, max_samples, self._clock)
        self._outcomes = _Window(window_s, max_samples, self._clock)

    def record_first_token(self, seconds: float) -> None:
        """Record the time from sending a request to its first text (the whole reply when not streamed)."""
        self._first_token.add(seconds)

    def record_success(self, total_s: float, tokens_in: int, tokens_out: int) -> None:
        """Record a call that finished."""
        self.calls += 1
        self.successes += 1
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out
        self._total.add(total_s)
        self._outcomes.add(1.0)
        if self._export is not None:
            self._export.success(total_s, tokens_in, tokens_out)

    def record_failure(self, *, timeout: bool = False) -> None:
        """Record a call that failed because of the model or its server."""
        self.calls += 1
        self.failures += 1
        if timeout:
            self.timeouts += 1
        self._outcomes.add(0.0)
        if self._export is not None:
            self._export.failure("timeout" if timeout else "failure")

    def record_rate_limited(self) -> None:
        """Record a call that the server refused with 429."""
        self.calls += 1
        self.rate_limited += 1
        if self._export is not None:
            self._export.failure("rate_limited")

    def error_rate(self) -> float:
        """Return the share of failed calls in the window."""
        outcomes = self._outcomes.values()
        return (len(outcomes) - sum(outcomes)) / len(outcomes) if outcomes else 0.0

    def first_token_p50(self, min_samples: int = 1) -> float | None:
        """Return the median time to first text in seconds, or None with fewer than min_samples samples."""
        values = self._first_token.values()
        return percentile(values, 50) if len(values) >= min_samples else None

    @staticmethod
    def _summary(values: list[float]) -> LatencySummary:
        p50, p95 = percentile(values, 50), percentile(values, 95)
        return LatencySummary(
            p50_ms=None if p50 is None else round(p50 * 1000, 1),
            p95_ms=None if p95 is None else round(p95 * 1000, 1),
            samples=len(values),
        )

    def first_token_summary(self) -> LatencySummary:
        """Return the time-to-first-text percentiles."""
        return self._summary(self._first_token.values())

    def total_summary(self) -> LatencySummary:
        """Return the whole-call latency percentiles."""
        return self._summary(self._total.values())
