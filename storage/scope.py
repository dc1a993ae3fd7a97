"""Scope: who and where a piece of data belongs to. Every storage read and write takes one."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Scope:
    """A person in a place: (platform, guild or DM, channel, user).

    ``guild_id`` is None for direct messages. The *realm* (one guild, or the person's DMs) is the
    boundary memories do not cross unless the person opts in to cross-server recall.
    """

    user_id: str
    guild_id: str | None = None
    channel_id: str | None = None
    platform: str = "discord"

    def __post_init__(self) -> None:
        for name in ("user_id", "platform"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _ID.match(value):
                raise ValueError(f"Scope.{name} must be 1-64 characters of [A-Za-z0-9_.:-], got {value!r}")
        for name in ("guild_id", "channel_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not _ID.match(value)):
                raise ValueError(
                    f"Scope.{name} must be None or 1-64 characters of [A-Za-z0-9_.:-], got {value!r}"
                )

    @property
    def is_dm(self) -> bool:
        return self.guild_id is None

    @property
    def realm(self) -> str:
        """Return the memory boundary: ``g<guild id>`` for a server, ``dm`` for direct messages."""
        return "dm" if self.guild_id is None else f"g{self.guild_id}"

    @property
    def user_key(self) -> str:
        """Return the platform-qualified person id used in keys and collection names."""
        return f"{self.platform}.{self.user_id}"

    @property
    def conversation_key(self) -> str:
        """Return the key of this person's conversation in this channel (or DM)."""
        return f"{self.user_key}:{self.realm}:{self.channel_id or '-'}"
