"""Who may administer Kindred: bot owners, guild admins (Manage Server) and a moderator role per guild.

Slash commands carry ``default_permissions`` only as a hint for Discord's client, which a server's admins
can change; every admin command also asks ``required_level`` here, in code, before it acts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from bot.errors import KindredError

MODERATOR_ROLE_KEY = "moderator_role"


class Level(IntEnum):
    """Permission levels, each including the ones below it."""

    MEMBER = 0
    MODERATOR = 1
    ADMIN = 2
    OWNER = 3

    @property
    def title(self) -> str:
        return {0: "member", 1: "moderator", 2: "server admin", 3: "bot owner"}[int(self)]


class PermissionDenied(KindredError):
    """The person's level is below what an admin command needs; the text says what they would need."""

    def __init__(self, needed: Level, have: Level) -> None:
        super().__init__(
            f"This needs a {needed.title} of Kindred here; you are a {have.title}. Nothing was changed."
        )
        self.needed = needed
        self.have = have


@dataclass(frozen=True, slots=True)
class Caller:
    """What decides a person's level where they used a command."""

    user_id: str
    guild_id: str | None
    manage_guild: bool  # their effective Manage Server (or Administrator) permission here
    role_ids: frozenset[str] = frozenset()


def level_of(caller: Caller, owner_ids: Iterable[str], moderator_role: str | None) -> Level:
    """Return a caller's level: owner by config, admin by Manage Server, moderator by the guild's role."""
    if caller.user_id in set(owner_ids):
        return Level.OWNER
    if caller.guild_id is None:
        return Level.MEMBER  # in DMs only owners administer
    if caller.manage_guild:
        return Level.ADMIN
    if moderator_role is not None and moderator_role in caller.role_ids:
        return Level.MODERATOR
    return Level.MEMBER


def require(have: Level, needed: Level) -> None:
    """Raise PermissionDenied unless ``have`` reaches ``needed``."""
    if have < needed:
        raise PermissionDenied(needed, have)
