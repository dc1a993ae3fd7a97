"""Who Kindred answers and how much: allow and block lists, per-person and per-guild limit overrides.

The gate runs in the pipeline before a turn is taken. Blocked messages are dropped silently (telling a
blocked person would only invite arguing with a bot); a spent daily token allowance is explained once,
briefly, until the allowance resets at midnight UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.config import AdminSettings
from bot.llm.tokens import estimate_tokens
from bot.pipeline.message import IncomingMessage, ReplySink, TurnInput
from storage.admin import AccessRuleRecord, LimitRecord
from storage.scope import Scope
from storage.service import StorageService

Now = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits in force for a person in a place; None means the configured rate or no allowance."""

    user_messages_per_minute: float | None
    guild_messages_per_minute: float | None
    user_tokens_per_day: int | None
    guild_tokens_per_day: int | None


def admitted(rules: list[AccessRuleRecord], user_id: str, role_ids: set[str], channel_ids: set[str]) -> bool:
    """Decide a message against a guild's lists: a block always wins; a non-empty allow list must match.

    Channel allow entries limit where Kindred talks; user and role allow entries limit who it talks with.
    ``channel_ids`` holds the channel and, for a thread, its parent, so threads follow their channel.
    """
    blocked = {(r.kind, r.target_id) for r in rules if r.mode == "block"}
    if ("user", user_id) in blocked or any(("role", r) in blocked for r in role_ids):
        return False
    if any(("channel", c) in blocked for c in channel_ids):
        return False
    allowed = [r for r in rules if r.mode == "allow"]
    channels = {r.target_id for r in allowed if r.kind == "channel"}
    if channels and not channels & channel_ids:
        return False
    people = {r.target_id for r in allowed if r.kind == "user"}
    roles = {r.target_id for r in allowed if r.kind == "role"}
    return not (people or roles) or user_id in people or bool(roles & role_ids)


def resolve_limits(records: list[LimitRecord], user_id: str, defaults: AdminSettings) -> Limits:
    """Return the limits for a person from a guild's overrides and the configured allowances."""
    own = next((r for r in records if r.subject_kind == "user" and r.subject_id == user_id), None)
    guild = next((r for r in records if r.subject_kind == "guild"), None)
    return Limits(
        user_messages_per_minute=own.messages_per_minute if own else None,
        guild_messages_per_minute=guild.messages_per_minute if guild else None,
        user_tokens_per_day=(own.tokens_per_day if own and own.tokens_per_day else None)
        or defaults.user_tokens_per_day,
        guild_tokens_per_day=(guild.tokens_per_day if guild and guild.tokens_per_day else None)
        or defaults.guild_tokens_per_day,
    )


class AccessGate:
    """The pipeline gate, rate overrides and token accounting of the admin feature."""

    def __init__(self, storage: StorageService, settings: AdminSettings, now: Now | None = None) -> None:
        self.storage = storage
        self.settings = settings
        self._now = now or (lambda: datetime.now(UTC))

    async def limits_for(self, scope: Scope) -> Limits:
        """Return the limits in force for a person where they are (DMs: the configured allowances)."""
        records = (
            await self.storage.admin.limits(scope.platform, scope.guild_id)
            if scope.guild_id is not None
            else []
        )
        return resolve_limits(records, scope.user_id, self.settings)

    async def admit(self, message: IncomingMessage, sink: ReplySink) -> bool:
        """Return whether Kindred may take a turn for this message (the pipeline's gate)."""
        scope = message.scope
        if scope.guild_id is not None:
            rules = await self.storage.admin.access_rules(scope.platform, scope.guild_id)
            channels = {c for c in (scope.channel_id, message.parent_channel_id) if c}
            if rules and not admitted(rules, scope.user_id, set(message.role_ids), channels):
                return False
        limits = await self.limits_for(scope)
        for bucket, allowance in self._allowances(scope, limits):
            if await self.storage.count_usage(bucket, 0, ttl_s=1.0) < allowance:
                continue
            seconds = self._until_midnight()
            if await self.storage.first_time("tok-notice", f"{bucket}:{scope.user_key}", ttl_s=seconds):
                who = "your" if ":u:" in bucket else "this server's"
                hours = max(1, round(seconds / 3600))
                await sink.notice(
                    f"I've reached {who} daily conversation allowance; it resets in about {hours} h "
                    "(midnight UTC)."
                )
            return False
        return True

    async def rate_overrides(self, scope: Scope) -> dict[str, float]:
        """Return the admins' messages-per-minute overrides for the pipeline's token buckets."""
        if scope.guild_id is None:
            return {}
        limits = await self.limits_for(scope)
        out = {}
        if limits.user_messages_per_minute is not None:
            out["user"] = limits.user_messages_per_minute
        if limits.guild_messages_per_minute is not None:
            out["guild"] = limits.guild_messages_per_minute
        return out

    async def charge(self, turn: TurnInput, user_turn_id: int, reply_turn_id: int | None) -> None:
        """Count a turn's tokens (the person's text and Kindred's reply) against the daily allowances."""
        allowances = self._allowances(turn.scope, await self.limits_for(turn.scope))
        if not allowances:
            return  # nothing is limited here: no need to read the reply back
        tokens = estimate_tokens(turn.text)
        if reply_turn_id is not None:
            replies = await self.storage.turns_for_indexing(turn.scope, [reply_turn_id])
            tokens += sum(estimate_tokens(r.text) for r in replies)
        ttl = self._until_midnight() + 60.0
        for bucket, _ in allowances:
            await self.storage.count_usage(bucket, float(tokens), ttl_s=ttl)

    async def tokens_used(self, scope: Scope) -> tuple[float, float]:
        """Return today's counted tokens for the person and for their guild (0 in DMs)."""
        day = self._now().strftime("%Y%m%d")
        user = await self.storage.count_usage(_user_bucket(day, scope), 0, ttl_s=1.0)
        guild = 0.0
        if scope.guild_id is not None:
            guild = await self.storage.count_usage(_guild_bucket(day, scope), 0, ttl_s=1.0)
        return user, guild

    def _allowances(self, scope: Scope, limits: Limits) -> list[tuple[str, int]]:
        day = self._now().strftime("%Y%m%d")
        out = []
        if limits.user_tokens_per_day is not None:
            out.append((_user_bucket(day, scope), limits.user_tokens_per_day))
        if limits.guild_tokens_per_day is not None and scope.guild_id is not None:
            out.append((_guild_bucket(day, scope), limits.guild_tokens_per_day))
        return out

    def _until_midnight(self) -> float:
        now = self._now()
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(1.0, (midnight - now).total_seconds())


def _user_bucket(day: str, scope: Scope) -> str:
    # Keyed by the person's user_key, so the forget-me sweep of cache keys covers it.
    return f"tokens:{day}:u:{scope.user_key}:{scope.realm}"


def _guild_bucket(day: str, scope: Scope) -> str:
    return f"tokens:{day}:g:{scope.platform}:{scope.guild_id}"
