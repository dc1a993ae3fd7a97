"""The Discord adapter: a discord.py bot that loads Kindred's cogs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

if TYPE_CHECKING:
    from bot.app import Kindred

log = logging.getLogger(__name__)


def intents() -> discord.Intents:
    """Return the intents Kindred needs: the defaults plus message content (privileged)."""
    wanted = discord.Intents.default()
    wanted.message_content = True
    return wanted


class KindredBot(commands.Bot):
    """A discord.py bot carrying the Kindred runtime for its cogs."""

    def __init__(self, kindred: Kindred) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned_or(kindred.settings.discord.command_prefix),
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.kindred = kindred

    async def setup_hook(self) -> None:
        """Load every configured cog before connecting to the gateway."""
        for name in self.kindred.settings.bot.cogs:
            await self.load_extension(name)
            log.info("loaded cog %s", name)

    async def on_ready(self) -> None:
        """Mark the gateway as connected for health reports."""
        self.kindred.gateway_connected = True
        log.info("connected to Discord as %s in %s guilds", self.user, len(self.guilds))

    async def on_disconnect(self) -> None:
        """Mark the gateway as disconnected for health reports."""
        self.kindred.gateway_connected = False
