"""Pieces every cog's Discord surface shares: the scope of an interaction and views only their owner uses."""

from __future__ import annotations

import discord

from bot.platforms.discord import answer_error
from storage.scope import Scope

NOT_YOURS = "These buttons belong to the person who opened them."


def interaction_scope(interaction: discord.Interaction) -> Scope:
    """Return the Scope of the person using a slash command or a button, where they used it."""
    guild_id = str(interaction.guild_id) if interaction.guild_id is not None else None
    return Scope(user_id=str(interaction.user.id), guild_id=guild_id, channel_id=str(interaction.channel_id))


class OwnedView(discord.ui.View):
    """A view whose buttons and selects act only for the person who opened it; anyone else is told, privately.

    Everything a person sees through a view is theirs (memories, crystals, audit pages), so the check is here
    once rather than in each callback.
    """

    def __init__(self, owner_id: int, timeout_s: float, refusal: str = NOT_YOURS) -> None:
        super().__init__(timeout=timeout_s)
        self.owner_id = owner_id
        self.refusal = refusal

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Let only the owner act."""
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(self.refusal, ephemeral=True)
        return False

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[OwnedView]
    ) -> None:
        """Answer a failed press the way a failed command is answered: privately, with a safe message."""
        await answer_error(interaction, error)
