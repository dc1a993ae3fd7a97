"""The circuit breaker's state machine, driven by an injected clock."""

from __future__ import annotations

import pytest

from bot.llm.breaker import BreakerConfig, BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(clock: FakeClock, **overrides: float) -> CircuitBreaker:
    config = {
        "failure_threshold": 3,
        "error_rate": 0.05,
        "window_s": 60.0,
        "min_calls": 20,
        "cooldown_s": 10.0,
        "cooldown_multiplier": 2.0,
        "max_cooldown_s": 35.0,
        "probe_timeout_s": 100.0,
    }
    config.update(overrides)
    return CircuitBreaker("m", BreakerConfig(**config), clock)  # type: ignore[arg-type]


def open_it(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.config.failure_threshold):
        breaker.record_failure()


def test_new_breaker_is_closed_and_admits_calls(clock: FakeClock) -> None:
    breaker = make(clock)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.try_acquire()


def test_opens_after_consecutive_failures(clock: FakeClock) -> None:
    breaker = make(clock)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN


def test_success_resets_the_consecutive_failure_count(clock: FakeClock) -> None:
    breaker = make(clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_opens_when_error_rate_exceeds_threshold_after_min_calls(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=100)
    for _ in range(18):
        breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED  # 1 of 19 calls, below min_calls
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN  # 2 of 20 calls = 10% > 5%


def test_one_error_in_two_calls_does_not_open_below_min_calls(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=100)
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_error_rate_equal_to_threshold_stays_closed(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=100)
    for _ in range(19):
        breaker.record_success()
    breaker.record_failure()  # 1 of 20 = exactly 5%
    assert breaker.state is BreakerState.CLOSED


def test_failures_older_than_the_window_do_not_count(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=100, min_calls=4)
    breaker.record_failure()
    clock.advance(61)
    for _ in range(4):
        breaker.record_success()
    assert breaker.window_counts() == (4, 0)
    assert breaker.state is BreakerState.CLOSED


def test_open_breaker_refuses_calls_during_cooldown(clock: FakeClock) -> None:
    breaker = make(clock)
    open_it(breaker)
    clock.advance(9.9)
    assert not breaker.available()
    assert not breaker.try_acquire()
    assert breaker.retry_in() == pytest.approx(0.1)


def test_after_cooldown_exactly_one_probe_is_admitted(clock: FakeClock) -> None:
    breaker = make(clock)
    open_it(breaker)
    clock.advance(10)
    assert breaker.try_acquire()
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.try_acquire()


def test_successful_probe_closes_the_circuit(clock: FakeClock) -> None:
    breaker = make(clock)
    open_it(breaker)
    clock.advance(10)
    breaker.try_acquire()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.try_acquire()


def test_failed_probe_reopens_with_a_longer_cooldown(clock: FakeClock) -> None:
    breaker = make(clock)
    open_it(breaker)
    clock.advance(10)
    breaker.try_acquire()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.advance(19)
    assert not breaker.try_acquire()
    clock.advance(1)
    assert breaker.try_acquire()


def test_cooldown_growth_is_capped(clock: FakeClock) -> None:
    breaker = make(clock)
    open_it(breaker)
    for _ in range(5):
        clock.advance(breaker.cooldown_s)
        assert breaker.try_acquire()
        breaker.record_failure()
    assert breaker.cooldown_s == 35.0


def test_closing_restores_the_base_cooldown(clock: FakeClock) -> None:
    breaker = make(clock)
    open_it(breaker)
    clock.advance(10)
    breaker.try_acquire()
    breaker.record_failure()  # cool-down now 20 s
    clock.advance(20)
    breaker.try_acquire()
    breaker.record_success()
    open_it(breaker)
    assert breaker.retry_in() == pytest.approx(10.0)


def test_closing_forgets_the_failures_that_opened_it(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=100, min_calls=2, error_rate=0.4)
    breaker.record_failure()
    breaker.record_failure()
    clock.advance(10)
    breaker.try_acquire()
    breaker.record_success()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.window_counts() == (2, 0)


def test_released_probe_lets_the_next_probe_through(clock: FakeClock) -> None:
    breaker = make(clock)
    open_it(breaker)
    clock.advance(10)
    assert breaker.try_acquire()
    breaker.release()
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.try_acquire()


def test_abandoned_probe_expires_after_probe_timeout(clock: FakeClock) -> None:
    breaker = make(clock)
    open_it(breaker)
    clock.advance(10)
    assert breaker.try_acquire()
    clock.advance(100)
    assert breaker.try_acquire()


def test_available_does_not_change_state(clock: FakeClock) -> None:
    breaker = make(clock)
    open_it(breaker)
    clock.advance(10)
    assert breaker.available()
    assert breaker.state is BreakerState.OPEN


def test_late_success_does_not_close_an_open_circuit(clock: FakeClock) -> None:
    breaker = make(clock)
    open_it(breaker)
    breaker.record_success()
    assert breaker.state is BreakerState.OPEN


def test_reset_closes_and_forgets(clock: FakeClock) -> None:
    breaker = make(clock)
    open_it(breaker)
    breaker.reset()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.window_counts() == (0, 0)
