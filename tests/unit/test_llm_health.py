"""The model part of `/healthz` and the test for "the database could not be reached"."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from bot.llm.health import llm_health
from bot.llm.stats import LatencySummary, ModelSnapshot, RouterSnapshot
from storage.health import Status
from storage.queue.base import QueueUnavailable
from storage.sql.engine import is_unavailable

NONE = LatencySummary(None, None, 0)
MODEL = ModelSnapshot(
    name="a",
    model="a",
    vision=False,
    primary=True,
    state="closed",
    available=True,
    retry_in_s=0.0,
    rate_limited_for_s=0.0,
    calls=0,
    successes=0,
    failures=0,
    rate_limited=0,
    timeouts=0,
    error_rate=0.0,
    first_token=NONE,
    total=NONE,
    tokens_in=0,
    tokens_out=0,
)


def test_every_model_usable_is_ok() -> None:
    health = llm_health(RouterSnapshot(primary=None, order=["a"], models=[MODEL]))
    assert (health.tier, health.status) == ("llm", Status.OK)


def test_a_rate_limited_fallback_degrades_and_says_for_how_long() -> None:
    paused = replace(MODEL, name="b", available=False, rate_limited_for_s=12.0)
    health = llm_health(RouterSnapshot(primary=None, order=["a"], models=[MODEL, paused]))
    assert health.status is Status.DEGRADED
    assert health.detail == "b rate limited for 12s"


def test_no_usable_model_says_people_get_a_notice() -> None:
    broken = replace(MODEL, available=False, state="open", retry_in_s=3.0)
    health = llm_health(RouterSnapshot(primary=None, order=[], models=[broken]))
    assert health.status is Status.DEGRADED
    assert health.detail.startswith("a circuit open, retry in 3s; no model usable")


def test_a_lost_connection_is_unavailability_and_a_constraint_is_not() -> None:
    lost = DBAPIError("INSERT", {}, Exception("closed"), connection_invalidated=True)
    assert is_unavailable(lost)
    assert is_unavailable(OperationalError("SELECT 1", {}, Exception("refused")))
    wrapped = QueueUnavailable("the job outbox cannot be reached")
    wrapped.__cause__ = ConnectionRefusedError()
    assert is_unavailable(wrapped)
    assert not is_unavailable(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_unavailable(ValueError("bad input"))


def test_a_cooled_down_circuit_stays_degraded_until_its_probe_succeeds() -> None:
    # The cool-down ended, so the next call is admitted, but the model has not answered since it failed.
    for state in ("open", "half_open"):
        recovering = replace(MODEL, state=state, available=True)
        health = llm_health(RouterSnapshot(primary=None, order=["a"], models=[recovering]))
        assert health.status is Status.DEGRADED
        assert health.detail == f"a circuit {state}, the next call probes it"
