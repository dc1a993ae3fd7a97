"""How support strategies are chosen and learned for one person: plain functions over their state.

Each strategy keeps fractional evidence for and against it. Its effectiveness is the mean of a Beta
posterior, (successes + 1) / (successes + failures + 2), so it is always strictly between 0 and 1, starts at
0.5, and moves less with every piece of evidence. Evidence is capped (scaled down past ``max_evidence``), so
old outcomes fade and a person whose needs change is not stuck with what worked a year ago.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.emotion import EmotionReading
from storage.support import StrategyStats, SupportState

STRATEGIES: tuple[str, ...] = ("listening", "advice", "encouragement", "distraction", "humour", "grounding")

# What the model is asked to do for each approach.
GUIDANCE: dict[str, str] = {
    "listening": (
        "Listen first: reflect back what they said and how it feels, ask one gentle open question, and do "
        "not rush to fix things or give advice unless they ask for it."
    ),
    "advice": (
        "Offer one or two concrete, practical next steps they could take, kindly and without lecturing, "
        "and check whether they want more."
    ),
    "encouragement": (
        "Encourage them: name what they are already managing and their strengths, and say honestly that "
        "this can get better."
    ),
    "distraction": (
        "Offer a gentle change of focus (a light topic, something they enjoy, a small pleasant activity) "
        "without dismissing how they feel."
    ),
    "humour": (
        "Use warm, gentle humour to lighten things a little, never at their expense and never about what "
        "hurts."
    ),
    "grounding": (
        "Help them ground themselves: slow breathing, noticing a few things they can see or hear, one small "
        "step at a time; keep your sentences short and calm."
    ),
}

# How well each approach suits an emotion before anything is known about the person (0..1). Emotions not
# listed (joy, surprise, neutral) need no support approach, and all approaches fit them alike.
FIT: dict[str, dict[str, float]] = {
    "sadness": {
        "listening": 0.8,
        "advice": 0.4,
        "encouragement": 0.7,
        "distraction": 0.4,
        "humour": 0.3,
        "grounding": 0.4,
    },
    "loneliness": {
        "listening": 0.8,
        "advice": 0.3,
        "encouragement": 0.6,
        "distraction": 0.5,
        "humour": 0.4,
        "grounding": 0.3,
    },
    "fear": {
        "listening": 0.6,
        "advice": 0.5,
        "encouragement": 0.5,
        "distraction": 0.3,
        "humour": 0.2,
        "grounding": 0.8,
    },
    "anger": {
        "listening": 0.8,
        "advice": 0.4,
        "encouragement": 0.3,
        "distraction": 0.4,
        "humour": 0.2,
        "grounding": 0.6,
    },
}
# The emotion's fit counts as this many pieces of evidence, so a person's own outcomes soon outweigh it.
PRIOR_WEIGHT = 2.0
RECENT_READINGS = 20

POSITIVE_REACTIONS = frozenset("👍 ❤ ♥ 💖 💕 💗 💜 💙 💚 🧡 🤍 🙏 😊 🙂 🥰 🤗 ✅ 💯 😌 🫶 ☺".split())  # noqa: SIM905
NEGATIVE_REACTIONS = frozenset("👎 😠 😡 🙄 😒 ❌ 😕 🤨 😤".split())  # noqa: SIM905


@dataclass(frozen=True, slots=True)
class Choice:
    """The approach picked for a turn and why: ``chosen`` (their preference), ``learned`` or ``default``."""

    strategy: str
    reason: str
    effectiveness: float


def suitability(stats: StrategyStats, emotion: str, strategy: str) -> float:
    """Return how well ``strategy`` should work for this person feeling ``emotion`` (0..1)."""
    fit = FIT.get(emotion, {}).get(strategy, 0.5)
    return (stats.successes + PRIOR_WEIGHT * fit) / (stats.successes + stats.failures + PRIOR_WEIGHT)


def rank(state: SupportState, emotion: str) -> list[tuple[str, float]]:
    """Return every strategy with its suitability for ``emotion``, best first (ties in STRATEGIES order)."""
    scored = [
        (name, suitability(state.strategies.get(name, StrategyStats()), emotion, name)) for name in STRATEGIES
    ]
    return sorted(scored, key=lambda item: -item[1])


def choose(state: SupportState, emotion: str) -> Choice:
    """Return the approach for this turn: the person's own choice, else the best learned one."""
    if state.preferred in STRATEGIES:
        name = str(state.preferred)
        return Choice(name, "chosen", state.strategies.get(name, StrategyStats()).score)
    name, _ = rank(state, emotion)[0]
    stats = state.strategies.get(name, StrategyStats())
    learned = stats.successes + stats.failures > 0
    return Choice(name, "learned" if learned else "default", stats.score)


def observe(stats: StrategyStats, outcome: float, weight: float, cap: float) -> StrategyStats:
    """Return the evidence after one outcome (1 helped, 0 did not, between: partly), bounded by ``cap``."""
    if not 0.0 <= outcome <= 1.0:
        raise ValueError(f"an outcome is between 0 and 1, not {outcome}")
    successes = stats.successes + weight * outcome
    failures = stats.failures + weight * (1.0 - outcome)
    total = successes + failures
    if total > cap:
        successes, failures = successes * cap / total, failures * cap / total
    return StrategyStats(successes, failures, stats.uses, stats.updated_at)


def mood_outcome(before: float, after: float) -> float:
    """Return how far the mood improved from one message to the next as an outcome in 0..1 (0.5: same)."""
    return min(1.0, max(0.0, 0.5 + (after - before)))


def reaction_outcome(emoji: str) -> float | None:
    """Return 1 for an approving reaction, 0 for a disapproving one, None for any other."""
    # Variation selectors and skin tones do not change what a reaction means.
    base = "".join(
        c
        for c in emoji
        if not (unicodedata.category(c) == "Mn" or "\ufe00" <= c <= "\ufe0f" or "🏻" <= c <= "🏿")
    )
    if base in POSITIVE_REACTIONS:
        return 1.0
    if base in NEGATIVE_REACTIONS:
        return 0.0
    return None


def apply_reading(
    state: SupportState, reading: EmotionReading, at: datetime, *, alpha: float, keep_days: int
) -> None:
    """Record one message's emotion: the current state, the usual mood, the trajectory and the day's sums."""
    state.baseline_valence = (
        reading.valence
        if state.baseline_valence is None
        else (1 - alpha) * state.baseline_valence + alpha * reading.valence
    )
    state.last_emotion = reading.emotion
    state.last_valence = reading.valence
    state.last_intensity = reading.intensity
    state.last_at = at
    entry = {
        "at": at.isoformat(),
        "emotion": reading.emotion,
        "valence": round(reading.valence, 4),
        "intensity": round(reading.intensity, 4),
    }
    state.recent = [*state.recent, entry][-RECENT_READINGS:]
    day = at.date().isoformat()
    sums = dict(state.days.get(day) or {"valence": 0.0, "n": 0, "emotions": {}})
    emotions = dict(sums.get("emotions") or {})
    for label, p in reading.emotions.items():
        emotions[label] = round(float(emotions.get(label, 0.0)) + p, 4)
    sums.update(
        valence=round(float(sums["valence"]) + reading.valence, 4), n=int(sums["n"]) + 1, emotions=emotions
    )
    oldest = (at - timedelta(days=keep_days - 1)).date().isoformat()
    state.days = {d: v for d, v in {**state.days, day: sums}.items() if d >= oldest}
