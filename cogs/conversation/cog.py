"""The Discord surface of conversation: the message listener and /chat, /persona."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.pipeline.context import effective_persona
from bot.platforms.discord import (
    KindredBot,
    is_reply_to,
    mentions,
    parent_channel_id,
    scope_of,
    to_incoming,
)
from bot.platforms.discord_send import DiscordSink
from bot.platforms.discord_views import interaction_scope

log = logging.getLogger(__name__)


class ConversationCog(commands.Cog):
    """Answer people where Kindred is invited to talk."""

    chat = app_commands.Group(name="chat", description="Your conversation with Kindred")
    persona = app_commands.Group(name="persona", description="Who Kindred is here")

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        self.kindred = bot.kindred

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Hand a message to the pipeline when Kindred should answer it."""
        me = self.bot.user
        if me is None or message.author.bot or message.author.id == me.id:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        if not await self._addressed(message, me):
            return
        incoming = await to_incoming(message, me, self.kindred.settings.pipeline)
        await self.kindred.pipeline.handle(incoming, DiscordSink(message.channel, reply_to=message))

    async def _addressed(self, message: discord.Message, me: discord.ClientUser) -> bool:
        if message.guild is None or mentions(message, me) or is_reply_to(message, me):
            return True
        scope = scope_of(message)
        place = await self.kindred.storage.place_settings(
            scope.platform, scope.guild_id, scope.channel_id, parent_channel_id(message)
        )
        return bool(place.get("ambient"))

    @chat.command(name="reset", description="Start a fresh conversation (what I remember about you stays)")
    async def chat_reset(self, interaction: discord.Interaction) -> None:
        """End the current session here."""
        await self.kindred.storage.end_session(interaction_scope(interaction))
        await interaction.response.send_message(
            "Started a fresh conversation here. What I remember about you stays; `/memory` shows it.",
            ephemeral=True,
        )

    @persona.command(name="show", description="Show who Kindred is in this channel")
    async def persona_show(self, interaction: discord.Interaction) -> None:
        """Show the effective persona for this channel."""
        scope = interaction_scope(interaction)
        channel = interaction.channel
        parent = str(channel.parent_id) if isinstance(channel, discord.Thread) and channel.parent_id else None
        persona = await effective_persona(self.kindred.storage, self.kindred.settings.persona, scope, parent)
        prompt = persona.prompt.replace("{name}", persona.name)
        embed = discord.Embed(title=f"Persona: {persona.name}", description=prompt[:4000])
        await interaction.response.send_message(embed=embed, ephemeral=True)
