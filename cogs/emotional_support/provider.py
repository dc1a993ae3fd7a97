"""The context provider: how the person seems to feel now, and the approach that helps them, for the model.

Only for people who opted in (or whose guild made it the default). The selection it makes is handed to
the service's after-turn hook, which records the reading and learns from what followed.
"""

from __future__ import annotations

from bot.pipeline.budget import Section
from bot.pipeline.message import TurnInput
from cogs.emotional_support.learning import GUIDANCE, Choice
from cogs.emotional_support.service import SupportService

# Between the response style (90) and recalled memories (70): how they feel now shapes this reply.
PRIORITY_SUPPORT = 85
REASONS = {
    "chosen": "they chose this approach themselves",
    "learned": "learned from how they responded before",
    "default": "a starting point for this feeling; nothing learned about them yet",
}


def describe_valence(valence: float) -> str:
    """Return a few words for a valence (-1..1)."""
    if valence <= -0.5:
        return "quite low"
    if valence <= -0.15:
        return "a bit low"
    if valence < 0.15:
        return "even"
    if valence < 0.5:
        return "fairly good"
    return "good"


def render_choice(choice: Choice) -> str:
    """Return the instruction for the chosen approach."""
    return (
        f"Support approach for them now: {choice.strategy} ({REASONS[choice.reason]}). "
        f"{GUIDANCE[choice.strategy]}"
    )


class SupportProvider:
    """The person's current emotional state and the support approach that works best for them."""

    name = "support"

    def __init__(self, service: SupportService) -> None:
        self.service = service

    async def provide(self, turn: TurnInput) -> list[Section]:
        """Return the support section for an opted-in person (nothing otherwise)."""
        selection = await self.service.select(turn)
        reading = selection.reading
        if reading is None:  # not opted in
            return []
        units = [
            f"Right now {turn.author} seems to feel {reading.emotion} "
            f"(mood {describe_valence(reading.valence)}, intensity {reading.intensity:.1f} of 1)."
        ]
        if selection.usual is not None:
            units.append(f"Their usual mood lately is {describe_valence(selection.usual)}.")
        if selection.choice is not None:
            units.append(render_choice(selection.choice))
        header = (
            "Emotional support (they opted in; be natural, never mention readings, scores or that you track "
            "how they feel):"
        )
        return [Section("support", PRIORITY_SUPPORT, header=header, units=units)]
