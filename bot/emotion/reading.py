"""The result of reading one message's emotion: a distribution, its valence and its intensity."""

from __future__ import annotations

from dataclasses import dataclass, field

LABELS: tuple[str, ...] = ("joy", "sadness", "anger", "fear", "surprise", "loneliness", "neutral")

# How pleasant each emotion is, from -1 (unpleasant) to 1; valence is the distribution's expectation.
LABEL_VALENCE: dict[str, float] = {
    "joy": 1.0,
    "sadness": -0.8,
    "anger": -0.7,
    "fear": -0.7,
    "surprise": 0.2,
    "loneliness": -0.8,
    "neutral": 0.0,
}


@dataclass(frozen=True, slots=True)
class EmotionReading:
    """One message's emotions: ``emotions`` sums to 1 over ``LABELS``; ``emotion`` is the most likely."""

    emotion: str
    emotions: dict[str, float] = field(hash=False)
    valence: float  # -1 (unpleasant) .. 1 (pleasant)
    intensity: float  # 0 (flat) .. 1 (strongly felt)

    def as_dict(self) -> dict[str, object]:
        """Return the reading as plain JSON-ready values, probabilities rounded to 4 places."""
        return {
            "emotion": self.emotion,
            "emotions": {label: round(p, 4) for label, p in self.emotions.items()},
            "valence": round(self.valence, 4),
            "intensity": round(self.intensity, 4),
        }
