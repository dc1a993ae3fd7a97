"""The tally's Discord surface: one slash command. Thin: it builds a scope and asks the service."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.platforms.discord import KindredBot
from storage.scope import Scope
from tests.example_cog.tally import TallyService


class TallyCog(commands.Cog):
    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        service = bot.kindred.features.services["example.tally"]
        assert isinstance(service, TallyService)
        self.service = service

    @app_commands.command(name="tally", description="How much you have told me so far")
    async def tally(self, interaction: discord.Interaction) -> None:
        """Answer privately with the person's tally in this place."""
        scope = Scope(
            user_id=str(interaction.user.id),
            guild_id=str(interaction.guild_id) if interaction.guild_id else None,
            channel_id=str(interaction.channel_id) if interaction.channel_id else None,
        )
        tally = await self.service.tally(scope)
        await interaction.response.send_message(f"You have sent me {tally.describe()}.", ephemeral=True)
