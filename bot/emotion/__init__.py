"""Emotion detection: a fast, offline reading of how a message feels (see detector.py for the rules)."""

from bot.emotion.detector import detect
from bot.emotion.reading import LABEL_VALENCE, LABELS, EmotionReading

__all__ = ["LABELS", "LABEL_VALENCE", "EmotionReading", "detect"]
