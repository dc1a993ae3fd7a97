"""Reading Retry-After and turning it into a pause."""

from __future__ import annotations

import pytest

from bot.llm.ratelimit import backoff_after_429, parse_retry_after

NOW = 4_102_444_800.0  # 2100-01-01 00:00:00 GMT


def test_retry_after_in_seconds() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0


def test_retry_after_as_http_date_is_relative_to_now() -> None:
    assert parse_retry_after({"retry-after": "Fri, 01 Jan 2100 00:00:30 GMT"}, now=NOW) == pytest.approx(30)


def test_retry_after_date_in_the_past_means_no_wait() -> None:
    assert parse_retry_after({"retry-after": "Thu, 31 Dec 2099 23:59:00 GMT"}, now=NOW) == 0.0


def test_retry_after_ms_is_preferred() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25


def test_missing_retry_after_is_none() -> None:
    assert parse_retry_after({}) is None


def test_unreadable_retry_after_is_none() -> None:
    assert parse_retry_after({"retry-after": "soon"}) is None


def test_backoff_uses_the_default_without_retry_after() -> None:
    assert backoff_after_429(None, default_s=5, cap_s=60, jitter=0) == 5


def test_backoff_is_capped() -> None:
    assert backoff_after_429(3600, default_s=5, cap_s=60, jitter=0) == 60


def test_jitter_only_lengthens_the_wait() -> None:
    assert backoff_after_429(10, default_s=5, cap_s=60, jitter=0.2, rand=lambda: 0.0) == 10
    assert backoff_after_429(10, default_s=5, cap_s=60, jitter=0.2, rand=lambda: 1.0) == pytest.approx(12)
