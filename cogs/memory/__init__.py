"""Memory: importance that learns each person's pattern, and the person's controls over what is kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.platforms.discord import KindredBot


async def setup(bot: KindredBot) -> None:
    """Load the memory cog."""
    from cogs.memory.cog import MemoryCog

    await bot.add_cog(MemoryCog(bot))
