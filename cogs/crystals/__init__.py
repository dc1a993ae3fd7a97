"""Crystals: reality generation (scenes, pictures in chat) and memory crystals (themes of one's story)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.platforms.discord import KindredBot


async def setup(bot: KindredBot) -> None:
    """Load the crystals cog."""
    from cogs.crystals.cog import CrystalsCog

    await bot.add_cog(CrystalsCog(bot))
