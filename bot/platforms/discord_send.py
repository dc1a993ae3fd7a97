"""Every message Kindred sends on Discord goes through here: no pings, clean splits, files if huge."""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import discord

from bot.delivery.split import neutralize_mentions, split_message

log = logging.getLogger(__name__)

LIMIT = 2000
# Past this many messages a reply becomes a file: a wall of messages helps no one.
MAX_MESSAGES = 5
NO_PINGS = discord.AllowedMentions.none()


def can_send(channel: discord.abc.Messageable) -> bool:
    """Return whether the bot may post in ``channel`` (DMs always; guild channels by permission)."""
    guild = getattr(channel, "guild", None)
    me = guild.me if guild is not None else None
    if me is None:
        return True
    perms = channel.permissions_for(me)  # type: ignore[attr-defined]
    if isinstance(channel, discord.Thread):
        return bool(perms.send_messages_in_threads)
    return bool(perms.send_messages)


def _replying(message: discord.Message | None) -> dict[str, Any]:
    # Reply to the person's message when there is one; fail_if_not_exists=False survives its deletion.
    if message is None:
        return {}
    return {"reference": message.to_reference(fail_if_not_exists=False)}


def _channel_id(channel: discord.abc.Messageable) -> object:
    return getattr(channel, "id", "?")


async def safe_send(
    channel: discord.abc.Messageable, text: str, *, reference: discord.Message | None = None
) -> list[discord.Message]:
    """Send ``text`` without pinging anyone, split at 2000 characters, as a file when very long."""
    if not can_send(channel):
        log.warning("no permission to send in channel %s; not sending", _channel_id(channel))
        return []
    clean = neutralize_mentions(text)
    chunks = split_message(clean, LIMIT)
    if not chunks:
        return []
    try:
        if len(chunks) > MAX_MESSAGES:
            file = discord.File(io.BytesIO(clean.encode()), filename="reply.md")
            note = "My reply is long, so here it is as a file."
            return [await channel.send(note, file=file, allowed_mentions=NO_PINGS, **_replying(reference))]
        sent = []
        for index, chunk in enumerate(chunks):
            extra = _replying(reference) if index == 0 else {}
            sent.append(await channel.send(chunk, allowed_mentions=NO_PINGS, **extra))
        return sent
    except discord.Forbidden:
        # A 403 will not go away by retrying; say so in the log once and move on.
        log.warning("Discord refused a send in channel %s (403)", _channel_id(channel))
        return []


class DiscordSink:
    """Deliver a turn's reply into a channel: typing, streamed edits at most once a second, notices."""

    def __init__(
        self,
        channel: discord.abc.Messageable,
        reply_to: discord.Message | None = None,
        edit_every_s: float = 1.0,
    ) -> None:
        self.channel = channel
        self.reply_to = reply_to
        self.edit_every_s = edit_every_s
        self.sent: list[discord.Message] = []
        self._refused = False  # after a 403 we stop trying: it will not go away by retrying

    async def typing(self) -> None:
        """Show the typing indicator once (it lasts about ten seconds or until a message is sent)."""
        if can_send(self.channel):
            with contextlib.suppress(discord.HTTPException):
                await self.channel.typing()

    async def notice(self, text: str) -> None:
        """Send a short notice in reply to the person's message."""
        await safe_send(self.channel, text, reference=self.reply_to)

    async def private_notice(self, text: str) -> None:
        """Send text to the person alone: a DM from a guild channel, or here when this is a DM already.

        If their DMs are closed the text is posted in the channel instead: for the crisis protocol, the
        person reading the helplines matters more than discretion, and silence is not an option.
        """
        author = self.reply_to.author if self.reply_to is not None else None
        if author is not None and getattr(self.channel, "guild", None) is not None:
            try:
                if await safe_send(author.dm_channel or await author.create_dm(), text):
                    return
            except discord.HTTPException as exc:
                log.warning("could not DM a person (%s); posting in the channel", exc.status)
        await safe_send(self.channel, text, reference=self.reply_to)

    async def moderator_alert(self, channel_id: int, text: str) -> None:
        """Post text in a channel of this conversation's guild (never of another guild)."""
        guild = getattr(self.channel, "guild", None)
        target = guild.get_channel(channel_id) if guild is not None else None
        if not isinstance(target, discord.abc.Messageable):
            guild_id = getattr(guild, "id", None)
            log.warning("moderator alert channel %s is not a text channel of guild %s", channel_id, guild_id)
            return
        if not can_send(target):
            log.warning("no permission to post the moderator alert in channel %s", channel_id)
            return
        # Not through safe_send: the alert is Kindred's own fixed text, and its user and channel mentions
        # must render (as names) for moderators to act; NO_PINGS still keeps them from pinging anyone.
        await target.send(text, allowed_mentions=NO_PINGS)

    async def stream(self, chunks: AsyncIterator[str]) -> str:
        """Stream the reply by editing messages as text arrives; return the full text delivered."""
        if not can_send(self.channel):
            text = "".join([c async for c in chunks])  # drain the model so its slot is freed
            log.warning("no permission to reply in channel %s", _channel_id(self.channel))
            return text
        text = ""
        last_sync = 0.0
        async for chunk in chunks:
            text += chunk
            if time.monotonic() - last_sync >= self.edit_every_s and text.strip():
                await self._sync(text, final=False)
                last_sync = time.monotonic()
        await self._sync(text, final=True)
        return text

    async def _sync(self, text: str, *, final: bool) -> None:
        if self._refused:
            return
        pieces = split_message(neutralize_mentions(text), LIMIT)
        if final and len(pieces) > MAX_MESSAGES:
            for message in self.sent:
                with contextlib.suppress(discord.HTTPException):
                    await message.delete()
            self.sent = await safe_send(self.channel, text, reference=self.reply_to)
            return
        try:
            for index, piece in enumerate(pieces):
                if index < len(self.sent):
                    if self.sent[index].content != piece:
                        self.sent[index] = await self.sent[index].edit(
                            content=piece, allowed_mentions=NO_PINGS
                        )
                    continue
                extra = _replying(self.reply_to) if index == 0 else {}
                self.sent.append(await self.channel.send(piece, allowed_mentions=NO_PINGS, **extra))
        except discord.Forbidden:
            self._refused = True
            log.warning("Discord refused a send in channel %s (403)", _channel_id(self.channel))
