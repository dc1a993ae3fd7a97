"""The Discord adapter: a discord.py bot that loads Kindred's cogs."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import PipelineSettings
from bot.errors import KindredError
from bot.pipeline.message import Attachment, ChainMessage, IncomingMessage
from bot.platforms.discord_options import guard_tree
from bot.platforms.discord_send import safe_send
from storage.scope import Scope

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

    def __init__(self, kindred: Kindred, **options: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned_or(kindred.settings.discord.command_prefix),
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **options,
        )
        self.kindred = kindred
        self.tree.error(self.on_app_command_error)
        kindred.alerts.sink = self  # threshold alerts and flag rollbacks go to the admin channel

    async def send_alert(self, channel_id: int, text: str) -> None:
        """Post an operations alert to the configured admin channel (the AlertSink of bot.ops.alerts)."""
        channel = self.get_channel(channel_id) or await self.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"channel {channel_id} cannot receive messages")
        await safe_send(channel, text)

    async def setup_hook(self) -> None:
        """Load every configured cog, then register the slash commands with Discord."""
        for name in self.kindred.settings.bot.cogs:
            await self.load_extension(name)
            log.info("loaded cog %s", name)
        guard_tree(self.tree)  # every command's options are held to their declared bounds before it runs
        if self.kindred.settings.discord.sync_commands:
            synced = await self.tree.sync()
            log.info("registered %s slash commands", len(synced))

    async def on_ready(self) -> None:
        """Mark the gateway as connected for health reports."""
        self.kindred.gateway_connected = True
        # The crisis check compiles in a thread from now (after, not during, the start it would slow), in
        # the seconds before the first person writes.
        self.kindred.pipeline.crisis.warm_soon()
        log.info("connected to Discord as %s in %s guilds", self.user, len(self.guilds))

    async def on_disconnect(self) -> None:
        """Mark the gateway as disconnected for health reports."""
        self.kindred.gateway_connected = False

    async def on_command_error(self, ctx: commands.Context[Any], error: commands.CommandError) -> None:
        """Answer a failed prefix command with a safe message (one handler for prefix and slash)."""
        if isinstance(error, commands.CommandNotFound):
            return
        await ctx.reply(user_error_text(error), allowed_mentions=discord.AllowedMentions.none())

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Answer a failed slash command privately with a safe message."""
        await answer_error(interaction, error)


async def answer_error(interaction: discord.Interaction, error: Exception) -> None:
    """Answer a failed command or component press privately with a safe message."""
    text = user_error_text(error)
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


def user_error_text(error: Exception) -> str:
    """Return what a person should see for a command error; log unexpected ones with an incident id."""
    original = getattr(error, "original", None) or error
    if isinstance(original, KindredError):
        return str(original)
    if isinstance(error, (app_commands.CheckFailure, commands.CheckFailure, commands.UserInputError)):
        return str(error) or "You can't use that command here."
    incident = uuid.uuid4().hex[:8]
    log.error("incident %s: command failed", incident, exc_info=original)
    return f"Something went wrong on my side (incident {incident}). It has been logged."


# ---------------------------------------------------------------- events into pipeline messages

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-yaml")
TEXT_SUFFIXES = (".txt", ".md", ".py", ".json", ".yaml", ".yml", ".csv", ".log", ".toml", ".js", ".ts", ".rs")


def scope_of(message: discord.Message) -> Scope:
    """Return the Scope of a message: its author in its guild channel or thread, or in DMs."""
    guild_id = str(message.guild.id) if message.guild is not None else None
    return Scope(user_id=str(message.author.id), guild_id=guild_id, channel_id=str(message.channel.id))


def parent_channel_id(message: discord.Message) -> str | None:
    """Return a thread's parent channel id (threads inherit their parent's settings)."""
    channel = message.channel
    return str(channel.parent_id) if isinstance(channel, discord.Thread) and channel.parent_id else None


def is_reply_to(message: discord.Message, user: discord.abc.User) -> bool:
    """Return whether ``message`` replies to a message by ``user``."""
    ref = message.reference
    resolved = ref.resolved if ref is not None else None
    return isinstance(resolved, discord.Message) and resolved.author.id == user.id


def mentions(message: discord.Message, user: discord.abc.User) -> bool:
    """Return whether ``message`` mentions ``user`` directly (not through @everyone or a role)."""
    return any(m.id == user.id for m in message.mentions)


def text_without_mention(message: discord.Message, user: discord.abc.User) -> str:
    """Return the message text with the bot's own mention removed and other mentions as readable names."""
    text = message.content
    for form in (f"<@{user.id}>", f"<@!{user.id}>"):
        text = text.replace(form, "")
    for member in message.mentions:
        name = getattr(member, "display_name", member.name)
        text = text.replace(f"<@{member.id}>", f"@{name}").replace(f"<@!{member.id}>", f"@{name}")
    return text.strip()


async def reply_chain(
    message: discord.Message, depth: int, bot_user: discord.abc.User
) -> tuple[ChainMessage, ...]:
    """Walk up to ``depth`` messages up the reply chain, nearest first; stop at anything unreadable."""
    chain: list[ChainMessage] = []
    current = message
    while len(chain) < depth and current.reference is not None and current.reference.message_id is not None:
        resolved = current.reference.resolved
        if not isinstance(resolved, discord.Message):
            try:
                resolved = await current.channel.fetch_message(current.reference.message_id)
            except discord.HTTPException:
                break
        chain.append(
            ChainMessage(
                resolved.author.display_name, resolved.content[:2000], resolved.author.id == bot_user.id
            )
        )
        current = resolved
    return tuple(chain)


async def read_attachments(
    message: discord.Message, max_bytes: int, max_chars: int
) -> tuple[Attachment, ...]:
    """Read text attachments (bounded) and note images; say why anything was skipped."""
    out = []
    for item in message.attachments:
        ctype = (item.content_type or "application/octet-stream").split(";")[0]
        name = item.filename
        if ctype.startswith("image/"):
            out.append(Attachment(name, ctype, item.size, url=item.url))
            continue
        if not (ctype.startswith(TEXT_TYPES) or name.lower().endswith(TEXT_SUFFIXES)):
            out.append(Attachment(name, ctype, item.size, note=f"I can't read {name} (not a text file)."))
            continue
        if item.size > max_bytes:
            out.append(
                Attachment(
                    name,
                    ctype,
                    item.size,
                    note=f"{name} is {item.size:,} bytes; I only read text files up to {max_bytes:,}.",
                )
            )
            continue
        try:
            raw = await item.read()
        except discord.HTTPException:
            out.append(Attachment(name, ctype, item.size, note=f"I couldn't download {name}."))
            continue
        if b"\x00" in raw[:4096]:
            out.append(Attachment(name, ctype, item.size, note=f"I can't read {name} (it looks binary)."))
            continue
        text = raw.decode("utf-8", errors="replace")
        note = None
        if len(text) > max_chars:
            note = f"{name} is long; I read the first {max_chars:,} characters."
            text = text[:max_chars]
        out.append(Attachment(name, ctype, item.size, text=text, note=note))
    return tuple(out)


async def to_incoming(
    message: discord.Message, bot_user: discord.abc.User, settings: PipelineSettings
) -> IncomingMessage:
    """Turn a Discord message into the pipeline's platform-neutral IncomingMessage."""
    return IncomingMessage(
        message_id=str(message.id),
        scope=scope_of(message),
        author=message.author.display_name,
        text=text_without_mention(message, bot_user),
        created_at=message.created_at,
        reply_chain=await reply_chain(message, settings.reply_chain_depth, bot_user),
        attachments=await read_attachments(
            message, settings.attachment_max_bytes, settings.attachment_max_chars
        ),
        parent_channel_id=parent_channel_id(message),
        role_ids=tuple(str(role.id) for role in getattr(message.author, "roles", ())),
    )
