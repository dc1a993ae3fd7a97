"""The importance score: its cues, how they combine, decay with age, and how learning shifts the weights."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import MemorySettings
from cogs.memory.importance import (
    DEFAULT_WEIGHTS,
    MAX_WEIGHT,
    MIN_WEIGHT,
    ImportanceScorer,
    combine,
    cues,
    shifted,
    usage,
)
from storage.sql.models import utcnow


def scorer() -> ImportanceScorer:
    # Scoring and decay are pure; only learning and rescoring touch storage.
    return ImportanceScorer(storage=None, settings=MemorySettings(), half_life_days=30.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("My sister Ana is visiting", "people"),
        ("We went hiking with Priya", "people"),
        ("I moved to Porto last year", "places"),
        ("Her wedding is coming up", "events"),
        ("The exam is on March 3rd", "dates"),
        ("Please remember that I'm allergic to nuts", "explicit"),
    ],
)
def test_each_personal_fact_cue_is_found(text: str, cue: str) -> None:
    assert cues(text)[cue] > 0


def test_a_plain_preference_shows_no_personal_cue() -> None:
    found = cues("likes green tea", proposed=0.3)
    assert all(found[c] == 0 for c in ("people", "places", "events", "dates", "explicit"))
    assert found["proposed"] == 0.3


def test_a_month_after_in_is_a_date_not_a_place_or_a_person() -> None:
    found = cues("started running in May")
    assert found["dates"] == 1.0 and found["places"] == 0.0 and found["people"] == 0.0


def test_strong_feeling_scores_higher_than_a_flat_statement() -> None:
    assert (
        cues("I am devastated and heartbroken, I can't stop crying")["emotion"]
        > cues("I had lunch")["emotion"]
    )


def test_explicit_flag_in_meta_counts_like_the_words() -> None:
    assert cues("Porto", meta={"explicit": True})["explicit"] == 1.0


def test_noisy_or_stays_within_one_and_grows_with_each_cue() -> None:
    one = combine(DEFAULT_WEIGHTS, {"people": 1.0})
    two = combine(DEFAULT_WEIGHTS, {"people": 1.0, "events": 1.0})
    every = combine(DEFAULT_WEIGHTS, {name: 1.0 for name in DEFAULT_WEIGHTS})
    assert 0 < one < two < every < 1


def test_personal_facts_outrank_trivia() -> None:
    s = scorer()
    fact = s.score(DEFAULT_WEIGHTS, "My sister Ana's wedding is in Lisbon on June 5th", 0.5, False, 0)
    trivia = s.score(DEFAULT_WEIGHTS, "likes green tea", 0.5, False, 0)
    assert fact > trivia


def test_asking_to_remember_lifts_a_memory() -> None:
    s = scorer()
    plain = s.score(DEFAULT_WEIGHTS, "the door code is 4411", 0.3, False, 0)
    asked = s.score(DEFAULT_WEIGHTS, "remember this: the door code is 4411", 0.3, False, 0)
    assert asked > plain + 0.3


def test_a_pin_makes_a_memory_fully_important() -> None:
    assert scorer().score(DEFAULT_WEIGHTS, "likes green tea", 0.1, True, 0) == 1.0


def test_recalls_add_importance_with_diminishing_returns() -> None:
    s = scorer()
    scores = [s.score(DEFAULT_WEIGHTS, "likes green tea", 0.3, False, n) for n in (0, 1, 5, 50)]
    assert scores == sorted(scores) and scores[0] < scores[1]
    assert usage(50) - usage(5) < usage(5) - usage(0)


def test_importance_decays_by_half_per_half_life_since_the_last_recall() -> None:
    s = scorer()
    now = utcnow()
    assert s.effective(0.8, now - timedelta(days=30), None) == pytest.approx(0.4, rel=1e-3)
    assert s.effective(0.8, now - timedelta(days=300), now) == pytest.approx(0.8, rel=1e-3)


def test_learning_moves_only_the_cues_the_memory_shows() -> None:
    strengths = {"people": 1.0, "places": 0.0}
    moved = shifted(DEFAULT_WEIGHTS, strengths, target=1.0, rate=0.5)
    assert moved["people"] == pytest.approx(DEFAULT_WEIGHTS["people"] + 0.5 * (1 - DEFAULT_WEIGHTS["people"]))
    assert moved["places"] == DEFAULT_WEIGHTS["places"]


def test_learning_keeps_weights_within_bounds() -> None:
    weights = dict(DEFAULT_WEIGHTS)
    for _ in range(100):
        weights = shifted(weights, {"people": 1.0}, target=0.0, rate=1.0)
    assert weights["people"] == MIN_WEIGHT
    for _ in range(100):
        weights = shifted(weights, {"people": 1.0}, target=1.0, rate=1.0)
    assert weights["people"] == MAX_WEIGHT
