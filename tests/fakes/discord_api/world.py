"""The fake's state: who exists, where, with which permissions, and the payloads Discord would send."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from tests.fakes.discord_api.models import (
    JSON,
    ChannelType,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Overwrite,
    Perm,
    SnowflakeFactory,
    StoredMessage,
)

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")


class World:
    """Users, guilds, channels and messages, plus the rules that relate them."""

    def __init__(self, *, bot_name: str = "Kindred", application_id: int | None = None) -> None:
        self.ids = SnowflakeFactory()
        self.users: dict[int, FakeUser] = {}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, StoredMessage] = {}
        self.bot = self.add_user(bot_name, bot=True)
        # Modern applications share their id with their bot user; a test may choose otherwise.
        self.application_id = application_id if application_id is not None else self.bot.id
        self.owner = self.add_user("owner")

    # ------------------------------------------------------------------ building

    def add_user(self, username: str, *, bot: bool = False, accepts_dms: bool = True) -> FakeUser:
        """Create a user."""
        user = FakeUser(
            id=self.ids.next(),
            username=username,
            global_name=username.title(),
            bot=bot,
            accepts_dms=accepts_dms,
        )
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, *, owner: FakeUser | None = None) -> FakeGuild:
        """Create a guild with its @everyone role, its owner and the bot as members."""
        owner = owner or self.owner
        guild = FakeGuild(id=self.ids.next(), name=name, owner_id=owner.id)
        guild.roles[guild.id] = FakeRole(
            id=guild.id, guild_id=guild.id, name="@everyone", permissions=Perm.EVERYONE_DEFAULT
        )
        self.guilds[guild.id] = guild
        self.add_member(guild, owner)
        self.add_member(guild, self.bot)
        return guild

    def add_role(self, guild: FakeGuild, name: str, *, permissions: int = 0) -> FakeRole:
        """Create a role in a guild, above the existing ones."""
        role = FakeRole(
            id=self.ids.next(),
            guild_id=guild.id,
            name=name,
            permissions=permissions,
            position=len(guild.roles),
        )
        guild.roles[role.id] = role
        return role

    def add_member(
        self, guild: FakeGuild, user: FakeUser, *, roles: list[FakeRole] | None = None
    ) -> FakeMember:
        """Make a user a member of a guild, with the given roles."""
        member = FakeMember(user=user, guild_id=guild.id, role_ids=[r.id for r in roles or []])
        guild.members[user.id] = member
        return member

    def add_text_channel(self, guild: FakeGuild, name: str, *, topic: str | None = None) -> FakeChannel:
        """Create a text channel in a guild."""
        channel = FakeChannel(
            id=self.ids.next(),
            type=ChannelType.TEXT,
            name=name,
            guild_id=guild.id,
            position=len(guild.channel_ids),
            topic=topic,
        )
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def add_thread(
        self, parent: FakeChannel, name: str, *, owner: FakeUser | None = None, private: bool = False
    ) -> FakeChannel:
        """Create a thread under a text channel."""
        if parent.guild_id is None or parent.is_thread:
            raise ValueError("a thread needs a guild text channel as its parent")
        thread = FakeChannel(
            id=self.ids.next(),
            type=ChannelType.PRIVATE_THREAD if private else ChannelType.PUBLIC_THREAD,
            name=name,
            guild_id=parent.guild_id,
            parent_id=parent.id,
            owner_id=(owner or self.owner).id,
        )
        self.channels[thread.id] = thread
        self.guilds[parent.guild_id].channel_ids.append(thread.id)
        return thread

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """Return the DM channel between the bot and a user, creating it on first use."""
        for channel in self.channels.values():
            if channel.type == ChannelType.DM and channel.recipient_id == user.id:
                return channel
        channel = FakeChannel(id=self.ids.next(), type=ChannelType.DM, recipient_id=user.id)
        self.channels[channel.id] = channel
        return channel

    def set_overwrite(
        self,
        channel: FakeChannel,
        target: FakeRole | FakeMember | FakeUser,
        *,
        allow: int = 0,
        deny: int = 0,
    ) -> None:
        """Set (replace) a channel's permission overwrite for a role or a member."""
        if isinstance(target, FakeRole):
            target_id, kind = target.id, 0
        else:
            target_id, kind = (target.user.id if isinstance(target, FakeMember) else target.id), 1
        channel.overwrites = [o for o in channel.overwrites if o.target_id != target_id]
        channel.overwrites.append(Overwrite(target_id=target_id, kind=kind, allow=allow, deny=deny))

    # ------------------------------------------------------------------ rules

    def permissions_in(self, user_id: int, channel: FakeChannel) -> int:
        """Compute a member's permissions in a guild channel the way Discord does."""
        if channel.guild_id is None:
            return Perm.ALL
        guild = self.guilds[channel.guild_id]
        member = guild.members.get(user_id)
        if member is None:
            return 0
        if user_id == guild.owner_id:
            return Perm.ALL
        perms = guild.everyone.permissions
        for role_id in member.role_ids:
            role = guild.roles.get(role_id)
            if role is not None:
                perms |= role.permissions
        if perms & Perm.ADMINISTRATOR:
            return Perm.ALL
        # Threads take their permissions from the parent channel's overwrites.
        source = self.channels[channel.parent_id] if channel.parent_id is not None else channel
        by_target = {o.target_id: o for o in source.overwrites}
        everyone = by_target.get(guild.id)
        if everyone is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.role_ids:
            ow = by_target.get(role_id)
            if ow is not None and ow.kind == 0:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        own = by_target.get(user_id)
        if own is not None and own.kind == 1:
            perms = (perms & ~own.deny) | own.allow
        return perms

    def can_send(self, user_id: int, channel: FakeChannel) -> bool:
        """Return whether a user may post in a channel."""
        if channel.type == ChannelType.DM:
            return True
        perms = self.permissions_in(user_id, channel)
        needed = Perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else Perm.SEND_MESSAGES
        return bool(perms & Perm.VIEW_CHANNEL) and bool(perms & needed)

    def guild_of(self, channel: FakeChannel) -> FakeGuild | None:
        """Return the guild a channel belongs to (None for DMs)."""
        return None if channel.guild_id is None else self.guilds[channel.guild_id]

    # ------------------------------------------------------------------ payloads

    def channel_payload(self, channel: FakeChannel) -> JSON:
        """Return the channel object Discord sends."""
        if channel.type == ChannelType.DM:
            recipient = self.users[channel.recipient_id or 0]
            return {
                "id": str(channel.id),
                "type": ChannelType.DM,
                "last_message_id": _opt_str(channel.last_message_id),
                "recipients": [recipient.payload()],
                "flags": 0,
            }
        data: JSON = {
            "id": str(channel.id),
            "type": channel.type,
            "guild_id": str(channel.guild_id),
            "name": channel.name,
            "parent_id": _opt_str(channel.parent_id),
            "last_message_id": _opt_str(channel.last_message_id),
            "rate_limit_per_user": 0,
            "flags": 0,
            "nsfw": False,
        }
        if channel.is_thread:
            count = sum(1 for m in self.messages.values() if m.channel_id == channel.id and not m.deleted)
            data.update(
                owner_id=str(channel.owner_id),
                message_count=count,
                total_message_sent=count,
                member_count=2,
                applied_tags=[],
                thread_metadata={
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": channel.created_at,
                    "locked": False,
                    "invitable": True,
                    "create_timestamp": channel.created_at,
                },
            )
        else:
            data.update(
                position=channel.position,
                topic=channel.topic,
                permission_overwrites=[o.payload() for o in channel.overwrites],
                default_auto_archive_duration=1440,
            )
        return data

    def guild_payload(self, guild: FakeGuild) -> JSON:
        """Return the guild object from REST (no channels or members)."""
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "preferred_locale": "en-US",
            "features": [],
            "roles": [r.payload() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
        }

    def guild_create_payload(self, guild: FakeGuild) -> JSON:
        """Return the GUILD_CREATE payload: the guild with its channels, threads, roles and members."""
        channels = [self.channels[c] for c in guild.channel_ids]
        data = self.guild_payload(guild)
        data.update(
            unavailable=False,
            large=False,
            joined_at=guild.joined_at,
            member_count=len(guild.members),
            channels=[self.channel_payload(c) for c in channels if not c.is_thread],
            threads=[self.channel_payload(c) for c in channels if c.is_thread],
            members=[m.payload() for m in guild.members.values()],
            voice_states=[],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
        )
        return data

    def message_payload(self, message: StoredMessage) -> JSON:
        """Return the message object Discord sends for a stored message."""
        data: JSON = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "type": message.type,
            "content": message.content,
            "author": message.author.payload(),
            "timestamp": message.timestamp,
            "edited_timestamp": message.edited_timestamp,
            "tts": message.tts,
            "mention_everyone": message.mention_everyone,
            "mentions": [self._mention_payload(uid, message.guild_id) for uid in message.mention_ids],
            "mention_roles": [str(r) for r in message.mention_role_ids],
            "attachments": list(message.attachments),
            "embeds": list(message.embeds),
            "components": list(message.components),
            "reactions": [
                {
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": self.bot.id in users,
                    "me_burst": False,
                    "burst_colors": [],
                    "emoji": _emoji_payload(key),
                }
                for key, users in message.reactions.items()
                if users
            ],
            "pinned": False,
            "flags": message.flags,
        }
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
            member = self.guilds[message.guild_id].members.get(message.author.id)
            if member is not None and message.webhook_id is None:
                data["member"] = member.payload(with_user=False)
        if message.webhook_id is not None:
            data["webhook_id"] = str(message.webhook_id)
            data["application_id"] = str(self.application_id)
        if message.interaction_metadata is not None:
            data["interaction_metadata"] = message.interaction_metadata
        if message.message_reference is not None:
            data["message_reference"] = message.message_reference
            ref_id = message.message_reference.get("message_id")
            referenced = self.messages.get(int(ref_id)) if ref_id is not None else None
            data["referenced_message"] = (
                None if referenced is None or referenced.deleted else self._shallow_payload(referenced)
            )
        return data

    def _shallow_payload(self, message: StoredMessage) -> JSON:
        # Discord nests one level only: a referenced message carries no referenced_message of its own.
        data = self.message_payload(dataclasses.replace(message, message_reference=None))
        if message.message_reference is not None:
            data["message_reference"] = message.message_reference
        return data

    def _mention_payload(self, user_id: int, guild_id: int | None) -> JSON:
        user = self.users.get(user_id)
        data: JSON = (
            user.payload() if user else {"id": str(user_id), "username": "unknown", "discriminator": "0"}
        )
        if guild_id is not None:
            member = self.guilds[guild_id].members.get(user_id)
            if member is not None:
                data["member"] = member.payload(with_user=False)
        return data

    def parse_mentions(self, content: str, guild_id: int | None) -> tuple[list[int], list[int], bool]:
        """Return (user ids, role ids, @everyone) that the content mentions, as Discord resolves them."""
        user_ids = [int(m) for m in USER_MENTION.findall(content) if int(m) in self.users]
        role_ids: list[int] = []
        if guild_id is not None:
            roles = self.guilds[guild_id].roles
            role_ids = [int(m) for m in ROLE_MENTION.findall(content) if int(m) in roles]
        everyone = "@everyone" in content or "@here" in content
        return list(dict.fromkeys(user_ids)), list(dict.fromkeys(role_ids)), everyone

    def new_message(
        self, channel: FakeChannel, author: FakeUser, content: str, **fields: Any
    ) -> StoredMessage:
        """Create and store a message; the caller has already worked out its mentions."""
        message = StoredMessage(
            id=self.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=content,
            **fields,
        )
        self.messages[message.id] = message
        channel.last_message_id = message.id
        return message

    def messages_in(self, channel_id: int, *, include_deleted: bool = False) -> list[StoredMessage]:
        """Return a channel's messages, oldest first."""
        found = [m for m in self.messages.values() if m.channel_id == channel_id]
        found = [m for m in found if include_deleted or not m.deleted]
        return sorted(found, key=lambda m: m.id)


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)


def _emoji_payload(key: str) -> JSON:
    # Custom emoji travel as "name:id" in URLs; unicode emoji as themselves.
    if ":" in key:
        name, _, emoji_id = key.partition(":")
        return {"id": emoji_id, "name": name}
    return {"id": None, "name": key}


def emoji_key(emoji: str | JSON) -> str:
    """Return the key the fake stores a reaction emoji under."""
    if isinstance(emoji, dict):
        return f"{emoji['name']}:{emoji['id']}" if emoji.get("id") else str(emoji["name"])
    return emoji.removeprefix("<:").removeprefix("<a:").removesuffix(">") if emoji.startswith("<") else emoji
