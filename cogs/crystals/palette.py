"""Emotional palettes: the colours of a conversation or a crystal, from the emotions in its words."""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.emotion import LABEL_VALENCE, LABELS, detect

# Where each emotion sits on the colour wheel (degrees): warm gold for joy, blue for sadness...
EMOTION_HUES: dict[str, float] = {
    "joy": 45.0,
    "sadness": 220.0,
    "anger": 5.0,
    "fear": 275.0,
    "surprise": 165.0,
    "loneliness": 200.0,
    "neutral": 190.0,
}
# Below this share no feeling is dominant and the palette stays calm.
MIN_FEELING = 0.15

RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Palette:
    """A dominant emotion and its hue, the mood's valence and intensity, and the colours made from them."""

    emotion: str
    hue: float  # degrees
    valence: float  # -1 .. 1
    intensity: float  # 0 .. 1

    def colour(self, lightness: float, saturation: float, hue_shift: float = 0.0) -> RGB:
        """Return an RGB colour at this palette's hue (shifted), clamped to the valid ranges."""
        h = ((self.hue + hue_shift) % 360.0) / 360.0
        light = min(max(lightness, 0.0), 1.0)
        sat = min(max(saturation, 0.0), 1.0)
        r, g, b = colorsys.hls_to_rgb(h, light, sat)
        return round(r * 255), round(g * 255), round(b * 255)

    @property
    def saturation(self) -> float:
        """Return how vivid the palette is: strong feelings are saturated, flat ones muted."""
        return 0.35 + 0.55 * self.intensity

    @property
    def night(self) -> bool:
        """Return whether the scene is a night scene (unpleasant moods darken the sky)."""
        return self.valence < -0.15


def palette_for(texts: Sequence[str]) -> Palette:
    """Return the palette of a set of texts: their averaged emotions, hue as a weighted circular mean."""
    readings = [detect(t) for t in texts if t.strip()]
    if not readings:
        return Palette("neutral", EMOTION_HUES["neutral"], 0.0, 0.0)
    mix = {label: sum(r.emotions.get(label, 0.0) for r in readings) / len(readings) for label in LABELS}
    feelings = {k: v for k, v in mix.items() if k != "neutral" and v >= MIN_FEELING}
    emotion = max(feelings, key=lambda k: feelings[k]) if feelings else "neutral"
    valence = sum(LABEL_VALENCE.get(k, 0.0) * v for k, v in mix.items())
    intensity = sum(r.intensity for r in readings) / len(readings)
    return Palette(emotion, _blend_hue(feelings) if feelings else EMOTION_HUES["neutral"], valence, intensity)


def _blend_hue(weights: dict[str, float]) -> float:
    # A circular mean, so a mix of anger (5°) and fear (275°) lands near magenta, not green.
    x = sum(math.cos(math.radians(EMOTION_HUES[k])) * w for k, w in weights.items())
    y = sum(math.sin(math.radians(EMOTION_HUES[k])) * w for k, w in weights.items())
    return math.degrees(math.atan2(y, x)) % 360.0
