"""Emotional support: support strategies that persist and learn, consent, /support and /mood."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.platforms.discord import KindredBot


async def setup(bot: KindredBot) -> None:
    """Load the emotional support cog."""
    from cogs.emotional_support.cog import EmotionalSupportCog

    await bot.add_cog(EmotionalSupportCog(bot))
