"""The Discord surface of emotional support: /support, /mood, and reactions on Kindred's replies."""

from __future__ import annotations

import io
import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.platforms.discord import KindredBot
from bot.platforms.discord_views import interaction_scope
from cogs.emotional_support.feature import SERVICE
from cogs.emotional_support.service import (
    OPTED_IN,
    OPTED_OUT,
    RESET,
    RESET_QUESTION,
    SupportService,
    feedback_text,
    style_text,
)
from cogs.memory.cog import ConfirmView
from storage.scope import Scope

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT_S = 120.0

Style = Literal["listening", "advice", "encouragement", "distraction", "humour", "grounding"]
StyleOrNone = Literal["listening", "advice", "encouragement", "distraction", "humour", "grounding", "none"]


class EmotionalSupportCog(commands.Cog):
    """Consent, what is kept, style and feedback for emotional support, and the mood chart."""

    support = app_commands.Group(name="support", description="How Kindred supports you when you're low")

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        service = bot.kindred.features.services[SERVICE]
        assert isinstance(service, SupportService)
        self.service = service

    async def _reply(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True)

    @support.command(name="optin", description="Let Kindred notice how you feel and learn what helps you")
    async def optin(self, interaction: discord.Interaction) -> None:
        """Opt in to emotional support."""
        await self.service.set_consent(interaction_scope(interaction), True)
        await self._reply(interaction, OPTED_IN)

    @support.command(name="optout", description="Stop keeping anything about how you feel")
    async def optout(self, interaction: discord.Interaction) -> None:
        """Opt out of emotional support."""
        await self.service.set_consent(interaction_scope(interaction), False)
        await self._reply(interaction, OPTED_OUT)

    @support.command(name="show", description="See everything Kindred keeps about how you feel")
    async def show(self, interaction: discord.Interaction) -> None:
        """Show what is kept."""
        await self._reply(interaction, await self.service.show(interaction_scope(interaction)))

    @support.command(name="style", description="Choose how you'd like to be supported when you're low")
    @app_commands.describe(style="The approach to try first")
    async def style(self, interaction: discord.Interaction, style: StyleOrNone) -> None:
        """Set (or clear, with none) the preferred approach."""
        chosen = None if style == "none" else style
        await self.service.set_style(interaction_scope(interaction), chosen)
        await self._reply(interaction, style_text(chosen))

    @support.command(name="reset", description="Delete everything Kindred keeps about how you feel")
    async def reset(self, interaction: discord.Interaction) -> None:
        """Ask, then delete it all."""
        scope = interaction_scope(interaction)

        async def delete() -> str:
            await self.service.reset(scope)
            return RESET

        view = ConfirmView(interaction.user.id, CONFIRM_TIMEOUT_S, delete)
        await interaction.response.send_message(RESET_QUESTION, view=view, ephemeral=True)

    @support.command(
        name="feedback", description="Tell Kindred whether its last way of supporting you helped"
    )
    @app_commands.describe(
        outcome="Did it help?", strategy="The approach you mean (default: the last one used)"
    )
    async def feedback(
        self,
        interaction: discord.Interaction,
        outcome: Literal["helped", "unhelpful"],
        strategy: Style | None = None,
    ) -> None:
        """Count the person's feedback."""
        helped = outcome == "helped"
        name, score = await self.service.feedback(interaction_scope(interaction), helped, strategy)
        await self._reply(interaction, feedback_text(name, score, helped))

    @app_commands.command(name="mood", description="A private chart of your mood over the last 7 or 30 days")
    @app_commands.describe(days="How many days to show")
    async def mood(self, interaction: discord.Interaction, days: Literal[7, 30] = 7) -> None:
        """Send the mood chart privately."""
        png = await self.service.mood_chart(interaction_scope(interaction), days)
        await interaction.response.send_message(
            f"Your mood over the last {days} days (only you can see this).",
            file=discord.File(io.BytesIO(png), filename=f"mood-{days}d.png"),
            ephemeral=True,
        )

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """Learn from a person's reaction on Kindred's reply to them."""
        me = self.bot.user
        if me is None or payload.user_id == me.id:
            return
        if payload.message_author_id is not None and payload.message_author_id != me.id:
            return
        try:
            channel = self.bot.get_channel(payload.channel_id) or await self.bot.fetch_channel(
                payload.channel_id
            )
            if not isinstance(channel, discord.abc.Messageable):
                return
            message = await channel.fetch_message(payload.message_id)
        except discord.HTTPException:
            return
        reference = message.reference
        if message.author.id != me.id or reference is None or reference.message_id is None:
            return
        guild = str(payload.guild_id) if payload.guild_id is not None else None
        scope = Scope(user_id=str(payload.user_id), guild_id=guild, channel_id=str(payload.channel_id))
        # Interventions are keyed by the person and their message: a reaction from anyone else finds none.
        strategy = await self.service.react(scope, str(reference.message_id), str(payload.emoji))
        if strategy is not None:
            log.debug("reaction counted for a support approach")
