"""Plain data the fake Discord keeps: users, guilds, channels, messages, and what the bot asked for."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000


class Perm:
    """Permission bits, as Discord documents them."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    ALL = (1 << 53) - 1

    # What a fresh server grants @everyone in text channels, close enough for tests.
    EVERYONE_DEFAULT = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | CREATE_PRIVATE_THREADS
        | SEND_MESSAGES_IN_THREADS
    )


class Intent:
    """Gateway intent bits the fake looks at."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    MESSAGE_CONTENT = 1 << 15
    PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


class ChannelType:
    """Channel type numbers used by the fake."""

    TEXT = 0
    DM = 1
    CATEGORY = 4
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    THREADS = (PUBLIC_THREAD, PRIVATE_THREAD)


class MessageFlag:
    """Message flag bits used by the fake."""

    EPHEMERAL = 1 << 6
    LOADING = 1 << 7


class SnowflakeFactory:
    """Hand out increasing snowflakes whose timestamps are the current time."""

    def __init__(self) -> None:
        self._last = 0
        self._counter = itertools.count()

    def next(self) -> int:
        """Return a new snowflake, larger than every one handed out before."""
        now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (now_ms << 22) | (next(self._counter) & 0xFFF)
        # Several ids in the same millisecond (or a clock step back) must still grow.
        self._last = max(candidate, self._last + 1)
        return self._last


def iso_now() -> str:
    """Return the current UTC time as Discord formats timestamps."""
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class FakeUser:
    """A Discord user (or bot account)."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    accepts_dms: bool = True

    @property
    def mention(self) -> str:
        """Return the text that mentions this user."""
        return f"<@{self.id}>"

    def payload(self) -> JSON:
        """Return the user object Discord sends."""
        data: JSON = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class FakeRole:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0

    @property
    def mention(self) -> str:
        """Return the text that mentions this role."""
        return f"<@&{self.id}>"

    def payload(self) -> JSON:
        """Return the role object Discord sends."""
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class FakeMember:
    """A user's membership of one guild."""

    user: FakeUser
    guild_id: int
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    def payload(self, *, with_user: bool = True) -> JSON:
        """Return the guild member object Discord sends (without ``user`` inside messages)."""
        data: JSON = {
            "roles": [str(r) for r in self.role_ids],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data


@dataclass
class Overwrite:
    """A channel permission overwrite for a role (kind 0) or a member (kind 1)."""

    target_id: int
    kind: int
    allow: int = 0
    deny: int = 0

    def payload(self) -> JSON:
        """Return the overwrite object Discord sends."""
        return {
            "id": str(self.target_id),
            "type": self.kind,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class FakeChannel:
    """A text channel, thread or DM channel."""

    id: int
    type: int
    name: str = ""
    guild_id: int | None = None
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    owner_id: int | None = None
    recipient_id: int | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    last_message_id: int | None = None
    created_at: str = field(default_factory=iso_now)

    @property
    def is_thread(self) -> bool:
        """Return whether this channel is a thread."""
        return self.type in ChannelType.THREADS

    @property
    def mention(self) -> str:
        """Return the text that links this channel."""
        return f"<#{self.id}>"


@dataclass
class FakeGuild:
    """A guild (server) and what it holds."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    joined_at: str = field(default_factory=iso_now)

    @property
    def everyone(self) -> FakeRole:
        """Return the @everyone role."""
        return self.roles[self.id]


@dataclass
class RecordedFile:
    """A file uploaded in a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One REST call the client made, in the order it arrived."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[RecordedFile]
    status: int = 0


@dataclass
class StoredMessage:
    """A message as the fake stores it, with what the sender asked for."""

    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    content: str
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[JSON] = field(default_factory=list)
    allowed_mentions: JSON | None = None
    message_reference: JSON | None = None
    flags: int = 0
    type: int = 0
    webhook_id: int | None = None
    interaction_metadata: JSON | None = None
    mention_ids: list[int] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    reactions: dict[str, set[int]] = field(default_factory=dict)
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    deleted: bool = False
    edits: list[JSON] = field(default_factory=list)
    tts: bool = False

    @property
    def ephemeral(self) -> bool:
        """Return whether only the invoking user can see this message."""
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def blocks_all_mentions(self) -> bool:
        """Return whether the sender's allowed_mentions forbid every ping (users, roles, everyone, reply)."""
        am = self.allowed_mentions
        if am is None:
            # Without allowed_mentions Discord pings whatever the content mentions.
            return False
        return not (am.get("parse") or am.get("users") or am.get("roles") or am.get("replied_user", False))

    @property
    def pinged_anyone(self) -> bool:
        """Return whether the message, as Discord resolved it, notified any user, role or @everyone."""
        return bool(self.mention_ids or self.mention_role_ids or self.mention_everyone)


@dataclass
class InteractionRecord:
    """An interaction the fake sent and everything the bot answered to it."""

    id: int
    token: str
    type: int
    channel_id: int
    guild_id: int | None
    user: FakeUser
    payload: JSON
    callbacks: list[JSON] = field(default_factory=list)
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)

    @property
    def response(self) -> JSON | None:
        """Return the first callback body (``{"type": ..., "data": ...}``), if any."""
        return self.callbacks[0] if self.callbacks else None

    @property
    def response_type(self) -> int | None:
        """Return the callback type (4 message, 5 deferred, 6 deferred update, 7 update, 9 modal)."""
        return None if self.response is None else int(self.response["type"])

    @property
    def response_data(self) -> JSON:
        """Return the callback's ``data`` object (empty when there is none)."""
        if self.response is None:
            return {}
        return dict(self.response.get("data") or {})

    @property
    def ephemeral(self) -> bool:
        """Return whether the first response was flagged ephemeral."""
        return bool(int(self.response_data.get("flags") or 0) & MessageFlag.EPHEMERAL)
