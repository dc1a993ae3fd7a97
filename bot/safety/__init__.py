"""Safety on the way in: text normalisation and length bounds before anything else reads it."""

from bot.safety.normalize import Bounded, bound_length, normalize_text

__all__ = ["Bounded", "bound_length", "normalize_text"]
