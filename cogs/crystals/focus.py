"""The /crystal enter context provider: while a person is inside a crystal, its facets join the prompt."""

from __future__ import annotations

from bot.pipeline.budget import Section
from bot.pipeline.message import TurnInput
from storage.crystals import CrystalStore

# Just under recalled memories: the theme frames the conversation, what was just said still comes first.
PRIORITY_CRYSTAL = 68


class CrystalFocusProvider:
    """Bring the entered crystal's facets (most central first) into the prompt until the person leaves."""

    name = "crystal"

    def __init__(self, store: CrystalStore, facets: int) -> None:
        self.store = store
        self.facets = facets

    async def provide(self, turn: TurnInput) -> list[Section]:
        """Return the entered crystal's theme and facets, or nothing when the person is in none."""
        crystal = await self.store.entered(turn.scope)
        if crystal is None or not crystal.facets:
            return []
        header = (
            f'{turn.author} has chosen to explore the theme "{crystal.name}" from their memories. Keep the '
            "conversation close to it, and draw on these memories where they help:"
        )
        units = [f"- ({f.created_at:%Y-%m-%d}) {f.text}" for f in crystal.facets[: self.facets]]
        return [Section("crystal", PRIORITY_CRYSTAL, header=header, units=units)]
