"""Conversation: chat in DMs, on mention, in replies, in threads and in channels enabled for ambient chat."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.platforms.discord import KindredBot


async def setup(bot: KindredBot) -> None:
    """Load the conversation cog."""
    from cogs.conversation.cog import ConversationCog

    await bot.add_cog(ConversationCog(bot))
