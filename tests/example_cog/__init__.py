"""Word tally: the example cog of docs/extending.md. It counts what each person has said to Kindred.

A discord.py extension like any cog in ``cogs/``: list ``tests.example_cog`` in ``bot.cogs`` to load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.platforms.discord import KindredBot


async def setup(bot: KindredBot) -> None:
    """Load the tally cog (its Discord surface; feature.py registered the rest at start)."""
    from tests.example_cog.cog import TallyCog

    await bot.add_cog(TallyCog(bot))
