"""Reading Retry-After and turning it into how long a rate-limited model is skipped."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Return the delay a 429 response asks for in seconds, from Retry-After (seconds or an HTTP date)."""
    # Some OpenAI-compatible servers send the finer-grained millisecond header; prefer it when present.
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(0.0, value)
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if math.isfinite(seconds):
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None  # an HTTP date is always GMT; a zoneless one is not one we can trust
    wall = time.time() if now is None else now
    return max(0.0, when.timestamp() - wall)


def backoff_after_429(
    requested_s: float | None,
    *,
    default_s: float,
    cap_s: float,
    jitter: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Return how long to skip a model after a 429: the server's wish (or a default), capped, plus jitter."""
    base = default_s if requested_s is None else requested_s
    base = min(max(base, 0.0), cap_s)
    # Jitter only ever lengthens the wait, so the server's Retry-After is always honoured.
    return base * (1 + jitter * rand())
