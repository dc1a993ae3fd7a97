"""Support strategies: bounded learning, choosing an approach, recording readings, and the mood chart."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from bot.emotion import LABELS, EmotionReading
from cogs.emotional_support import learning
from cogs.emotional_support.chart import (
    BOTTOM,
    COLOURS,
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    daily_points,
    render_mood,
)
from storage.support import StrategyStats, SupportState

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def reading(emotion: str, valence: float, intensity: float = 0.5) -> EmotionReading:
    rest = (1.0 - 0.7) / (len(LABELS) - 1)
    emotions = {label: (0.7 if label == emotion else rest) for label in LABELS}
    return EmotionReading(emotion, emotions, valence, intensity)


def test_a_new_strategy_scores_one_half() -> None:
    assert StrategyStats().score == 0.5


def test_success_raises_and_failure_lowers_the_score() -> None:
    base = StrategyStats(2.0, 2.0)
    assert learning.observe(base, 1.0, 1.0, 30).score > base.score
    assert learning.observe(base, 0.0, 1.0, 30).score < base.score


def test_evidence_is_capped_so_old_outcomes_fade() -> None:
    stats = StrategyStats()
    for _ in range(200):
        stats = learning.observe(stats, 1.0, 1.0, cap=30)
    assert stats.successes + stats.failures == pytest.approx(30)
    # After a long run of successes, a run of failures still turns it around within a bounded number.
    for _ in range(30):
        stats = learning.observe(stats, 0.0, 1.0, cap=30)
    assert stats.score < 0.5


@given(
    outcomes=st.lists(st.floats(min_value=0, max_value=1), max_size=60),
    weight=st.floats(min_value=0, max_value=5),
)
def test_score_always_stays_strictly_between_zero_and_one(outcomes: list[float], weight: float) -> None:
    stats = StrategyStats()
    for outcome in outcomes:
        stats = learning.observe(stats, outcome, weight, cap=30)
        assert 0.0 < stats.score < 1.0
        assert stats.successes + stats.failures <= 30 + 1e-9


def test_an_outcome_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        learning.observe(StrategyStats(), 1.5, 1.0, 30)


def test_mood_outcome_is_neutral_when_nothing_changed_and_bounded() -> None:
    assert learning.mood_outcome(-0.5, -0.5) == 0.5
    assert learning.mood_outcome(-0.5, 0.0) == 1.0
    assert learning.mood_outcome(0.5, -1.0) == 0.0
    assert 0.5 < learning.mood_outcome(-0.6, -0.3) < 1.0


@pytest.mark.parametrize(
    ("emoji", "expected"),
    [
        ("👍", 1.0),
        ("👍🏽", 1.0),
        ("❤️", 1.0),
        ("🙏", 1.0),
        ("👎", 0.0),
        ("👎🏿", 0.0),
        ("😡", 0.0),
        ("🍕", None),
    ],
)
def test_reactions_read_as_outcomes_whatever_the_skin_tone(emoji: str, expected: float | None) -> None:
    assert learning.reaction_outcome(emoji) == expected


def test_with_nothing_learned_the_emotion_decides() -> None:
    state = SupportState()
    assert learning.choose(state, "fear") == learning.Choice("grounding", "default", 0.5)
    assert learning.choose(state, "sadness").strategy == "listening"


def test_learned_outcomes_outweigh_the_emotion_fit() -> None:
    state = SupportState(strategies={"listening": StrategyStats(0.0, 6.0), "humour": StrategyStats(5.0, 0.0)})
    choice = learning.choose(state, "sadness")
    assert choice.strategy == "humour"
    assert choice.reason == "learned"


def test_the_persons_own_choice_wins() -> None:
    state = SupportState(preferred="distraction", strategies={"listening": StrategyStats(9.0, 0.0)})
    assert learning.choose(state, "sadness") == learning.Choice("distraction", "chosen", 0.5)


def test_a_reading_updates_state_baseline_and_trajectory() -> None:
    state = SupportState()
    learning.apply_reading(state, reading("sadness", -0.8), NOON, alpha=0.5, keep_days=31)
    learning.apply_reading(state, reading("joy", 0.4), NOON + timedelta(minutes=5), alpha=0.5, keep_days=31)
    assert state.last_emotion == "joy" and state.last_valence == 0.4
    assert state.baseline_valence == pytest.approx(-0.2)
    assert [r["emotion"] for r in state.recent] == ["sadness", "joy"]
    day = state.days["2026-11-21"]
    assert day["n"] == 2 and day["valence"] == pytest.approx(-0.4)


def test_trajectory_and_days_are_bounded() -> None:
    state = SupportState()
    for i in range(60):
        learning.apply_reading(
            state, reading("neutral", 0.0), NOON + timedelta(days=i), alpha=0.05, keep_days=31
        )
    assert len(state.recent) == learning.RECENT_READINGS
    assert len(state.days) == 31
    assert min(state.days) == (NOON + timedelta(days=59 - 30)).date().isoformat()


def test_daily_points_average_each_day_and_leave_gaps() -> None:
    days = {
        "2026-11-19": {"valence": -1.2, "n": 2, "emotions": {"sadness": 1.4, "joy": 0.2}},
        "2026-11-21": {"valence": 0.5, "n": 1, "emotions": {"joy": 0.8}},
    }
    points = daily_points(days, 7, date(2026, 11, 21))
    assert len(points) == 7
    assert points[4] == (date(2026, 11, 19), pytest.approx(-0.6), "sadness")
    assert points[5] is None
    assert points[6] == (date(2026, 11, 21), 0.5, "joy")


@pytest.mark.parametrize("span", [7, 30])
def test_mood_chart_is_a_png_of_the_right_size_with_the_days_colours(span: int) -> None:
    today = date(2026, 11, 21)
    days = {
        (today - timedelta(days=1)).isoformat(): {"valence": -0.7, "n": 1, "emotions": {"sadness": 0.9}},
        today.isoformat(): {"valence": 0.6, "n": 1, "emotions": {"joy": 0.9}},
    }
    image = Image.open(io.BytesIO(render_mood(days, span, today)))
    assert image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT)
    pixels = image.convert("RGB")
    colours = {colour for _, colour in pixels.getcolors(maxcolors=WIDTH * HEIGHT) or []}
    assert len(colours) > 10  # axes, text, line and dots: not a blank canvas
    # The plot area and the dots on its edges, without the legend.
    plot = pixels.crop((LEFT + 2, TOP - 10, WIDTH - RIGHT + 10, HEIGHT - BOTTOM + 10))
    plot_colours = {colour for _, colour in plot.getcolors(maxcolors=WIDTH * HEIGHT) or []}
    assert COLOURS["joy"] in plot_colours and COLOURS["sadness"] in plot_colours
    assert COLOURS["anger"] not in plot_colours


def test_mood_chart_without_readings_still_has_axes() -> None:
    image = Image.open(io.BytesIO(render_mood({}, 7, date(2026, 11, 21)))).convert("RGB")
    assert len(image.getcolors(maxcolors=WIDTH * HEIGHT) or []) > 2


def test_the_slash_command_choices_are_the_strategies() -> None:
    from typing import get_args

    from cogs.emotional_support.cog import Style, StyleOrNone

    assert get_args(Style) == learning.STRATEGIES
    assert get_args(StyleOrNone) == (*learning.STRATEGIES, "none")
