"""A circuit breaker per model: stop sending work to a model that keeps failing, and probe it back in."""

from __future__ import annotations

import enum
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerConfig:
    """The thresholds and cool-downs of one breaker."""

    failure_threshold: int = 5
    error_rate: float = 0.05
    window_s: float = 120.0
    min_calls: int = 20
    cooldown_s: float = 30.0
    cooldown_multiplier: float = 2.0
    max_cooldown_s: float = 600.0
    # A probe whose outcome never arrives (its caller vanished) must not hold the breaker half-open for ever.
    probe_timeout_s: float = 300.0


class CircuitBreaker:
    """Closed lets calls through; open refuses them until a cool-down ends; half-open admits one probe.

    Hysteresis comes from the asymmetry: opening needs a run of failures or a sustained error rate, and
    each failed probe lengthens the next cool-down, so a flapping model is not retried on every turn.
    """

    def __init__(self, name: str, config: BreakerConfig | None = None, clock: Clock | None = None) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self._clock = clock or time.monotonic
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.cooldown_s = self.config.cooldown_s
        self.opened_at: float | None = None
        self.times_opened = 0
        self._probe_started: float | None = None
        self._outcomes: deque[tuple[float, bool]] = deque()

    # ------------------------------------------------------------ queries

    def _prune(self, now: float) -> None:
        horizon = now - self.config.window_s
        while self._outcomes and self._outcomes[0][0] < horizon:
            self._outcomes.popleft()

    def window_counts(self) -> tuple[int, int]:
        """Return (calls, failures) in the sliding window."""
        self._prune(self._clock())
        failures = sum(1 for _, ok in self._outcomes if not ok)
        return len(self._outcomes), failures

    def error_rate(self) -> float:
        """Return the share of failed calls in the sliding window (0 when there were none)."""
        calls, failures = self.window_counts()
        return failures / calls if calls else 0.0

    def _cooled_down(self, now: float) -> bool:
        return self.opened_at is not None and now >= self.opened_at + self.cooldown_s

    def _probe_busy(self, now: float) -> bool:
        return self._probe_started is not None and now < self._probe_started + self.config.probe_timeout_s

    def available(self) -> bool:
        """Return whether a call would be admitted now, without changing any state."""
        now = self._clock()
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            return self._cooled_down(now)
        return not self._probe_busy(now)

    def retry_in(self) -> float:
        """Return the seconds until an open breaker admits its probe (0 when it admits calls now)."""
        if self.state is not BreakerState.OPEN or self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown_s - self._clock())

    # ------------------------------------------------------------ transitions

    def try_acquire(self) -> bool:
        """Admit a call (claiming the probe slot when half-open), or refuse it."""
        now = self._clock()
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if not self._cooled_down(now):
                return False
            self.state = BreakerState.HALF_OPEN
            log.info("circuit for model %s is half-open; sending a probe", self.name)
        if self._probe_busy(now):
            return False
        self._probe_started = now
        return True

    def release(self) -> None:
        """Give back a probe slot whose call ended without a verdict (cancelled or abandoned)."""
        self._probe_started = None

    def record_success(self) -> None:
        """Count a successful call; a successful probe closes the circuit."""
        now = self._clock()
        self.consecutive_failures = 0
        # Only the probe's verdict closes an open circuit; a straggler admitted before it opened does not.
        if self.state is BreakerState.HALF_OPEN:
            log.info("circuit for model %s closed after a successful probe", self.name)
            self.state = BreakerState.CLOSED
            self.cooldown_s = self.config.cooldown_s
            self.opened_at = None
            self._probe_started = None
            # Start the error-rate window afresh so the failures that opened it cannot re-open it at once.
            self._outcomes.clear()
        self._outcomes.append((now, True))
        self._prune(now)

    def record_failure(self) -> None:
        """Count a failed call; open the circuit past a threshold, or re-open it after a failed probe."""
        now = self._clock()
        self.consecutive_failures += 1
        self._outcomes.append((now, False))
        self._prune(now)
        if self.state is BreakerState.HALF_OPEN:
            longer = self.cooldown_s * self.config.cooldown_multiplier
            self.cooldown_s = min(longer, self.config.max_cooldown_s)
            self._open(now, "probe failed")
            return
        if self.state is BreakerState.OPEN:
            return  # a call admitted before the circuit opened; the cool-down already runs
        if self.consecutive_failures >= self.config.failure_threshold:
            self._open(now, f"{self.consecutive_failures} failures in a row")
            return
        calls, failures = len(self._outcomes), sum(1 for _, ok in self._outcomes if not ok)
        if calls >= self.config.min_calls and failures / calls > self.config.error_rate:
            self._open(now, f"error rate {failures}/{calls}")

    def _open(self, now: float, reason: str) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = now
        self._probe_started = None
        self.times_opened += 1
        log.warning("circuit for %s opened (%s); cooling down %.1fs", self.name, reason, self.cooldown_s)

    def reset(self) -> None:
        """Close the circuit and forget its history (an admin override)."""
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.cooldown_s = self.config.cooldown_s
        self.opened_at = None
        self._probe_started = None
        self._outcomes.clear()
