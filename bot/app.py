"""The composition root: the one place that builds settings, storage and the platform clients."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot.config import Settings, require_secret
from bot.errors import EXIT_CONFIG, EXIT_OK
from bot.ops.http import OpsServer
from storage.health import Status, TierHealth
from storage.service import StorageService

log = logging.getLogger(__name__)


class Kindred:
    """Everything a running Kindred holds: settings, storage and the ops endpoint."""

    def __init__(self, settings: Settings, storage: StorageService) -> None:
        self.settings = settings
        self.storage = storage
        self.gateway_connected = False
        self._ops: OpsServer | None = None

    @classmethod
    async def start(cls, settings: Settings) -> Kindred:
        """Open storage and start the ops endpoint."""
        storage = await StorageService.open(settings.storage)
        app = cls(settings, storage)
        if settings.ops.http_enabled:
            app._ops = OpsServer(settings.ops.http_host, settings.ops.http_port, app.health)
            await app._ops.start()
        return app

    async def health(self) -> list[TierHealth]:
        """Report the storage tiers and the Discord gateway."""
        parts = await self.storage.health()
        parts.append(
            TierHealth(
                "gateway",
                "discord",
                Status.OK if self.gateway_connected else Status.DEGRADED,
                detail="connected" if self.gateway_connected else "not connected",
            )
        )
        return parts

    async def close(self) -> None:
        """Stop the ops endpoint and close storage."""
        if self._ops is not None:
            await self._ops.stop()
        await self.storage.close()


async def run_discord(settings: Settings) -> int:
    """Run the Discord bot until SIGTERM/SIGINT; return the process exit code."""
    import discord

    from bot.platforms.discord import KindredBot

    token = require_secret(settings.discord.token, "discord.token")
    app = await Kindred.start(settings)
    bot = KindredBot(app)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
    try:
        await bot.start(token)
        return EXIT_OK
    except discord.LoginFailure:
        print(
            "kindred: Discord rejected the token (discord.token / DISCORD_TOKEN). Copy a fresh one from the "
            "Developer Portal: your application -> Bot -> Reset Token.",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    except discord.PrivilegedIntentsRequired:
        print(
            "kindred: Discord refused the Message Content intent. Enable it in the Developer Portal: your "
            "application -> Bot -> Privileged Gateway Intents -> MESSAGE CONTENT INTENT.",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    finally:
        if not bot.is_closed():
            await bot.close()
        await app.close()
