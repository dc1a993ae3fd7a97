"""Administration: permissions, moderation lists, limits, personas, feature flags, models, jobs, audit."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.platforms.discord import KindredBot


async def setup(bot: KindredBot) -> None:
    """Load the admin cog."""
    from cogs.admin.cog import AdminCog

    await bot.add_cog(AdminCog(bot))
