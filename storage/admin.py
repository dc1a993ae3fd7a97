"""The administration facade: audit log, feature flags, allow and block lists, and limit overrides.

Attached to StorageService as ``storage.admin``. Access rules and limits are read on every incoming message,
so they are cached per guild (in Redis when configured, so every process sees a change at once) and the
cache is dropped whenever they change.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.cache import Cache
from storage.sql.models import utcnow
from storage.sql.models_admin import GLOBAL, AccessRule, AuditEntry, FeatureFlag, LimitOverride

RULES_PREFIX = "admin:rules:"
LIMITS_PREFIX = "admin:limits:"
# A missed invalidation (a cache outage during a change) heals itself after this long.
CACHE_TTL_S = 60.0

RuleKind = Literal["user", "role", "channel"]
RuleMode = Literal["allow", "block"]
SubjectKind = Literal["user", "guild"]
RULE_KINDS = ("user", "role", "channel")
RULE_MODES = ("allow", "block")
RESULTS = ("ok", "refused", "failed")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    created_at: datetime
    guild_id: str | None
    actor_id: str
    action: str
    target: str | None
    detail: dict[str, Any]
    result: str


@dataclass(frozen=True, slots=True)
class FlagRecord:
    name: str
    guild_id: str | None  # None: the global value
    enabled: bool
    reason: str | None
    updated_by: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AccessRuleRecord:
    kind: str
    target_id: str
    mode: str
    created_by: str | None


@dataclass(frozen=True, slots=True)
class LimitRecord:
    subject_kind: str
    subject_id: str | None  # None: the guild itself
    messages_per_minute: float | None
    tokens_per_day: int | None


class AdminStore:
    """Durable administration data, scoped by platform and guild."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], cache: Cache) -> None:
        self._sessions = sessions
        self._cache = cache

    # ------------------------------------------------------------------ audit log

    async def audit(
        self,
        platform: str,
        guild_id: str | None,
        actor_id: str,
        action: str,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
        result: str = "ok",
    ) -> int:
        """Record one admin action; return the entry's id."""
        if result not in RESULTS:
            raise ValueError(f"audit result must be one of {', '.join(RESULTS)}, not {result!r}")
        entry = AuditEntry(
            created_at=utcnow(),
            platform=platform,
            guild_id=guild_id or GLOBAL,
            actor_id=actor_id,
            action=action[:64],
            target=None if target is None else target[:200],
            detail=detail or {},
            result=result,
        )
        async with self._sessions() as session:
            session.add(entry)
            await session.commit()
            return entry.id

    async def audit_page(
        self, platform: str | None, guild_id: str | None, page: int = 1, per_page: int = 10
    ) -> tuple[list[AuditRecord], int]:
        """Return one page of a guild's audit log, newest first, and the total number of entries.

        ``guild_id`` None reads the actions outside guilds (owners' and Kindred's own, such as a flag's
        automatic rollback); ``platform`` None reads every platform's.
        """
        if page < 1 or per_page < 1:
            raise ValueError("page and per_page start at 1")
        where = [AuditEntry.guild_id == (guild_id or GLOBAL)]
        if platform is not None:
            where.append(AuditEntry.platform == platform)
        async with self._sessions() as session:
            total = int(await session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0)
            rows = await session.scalars(
                select(AuditEntry)
                .where(*where)
                .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
                .offset((page - 1) * per_page)
                .limit(per_page)
            )
            return [
                AuditRecord(
                    r.id,
                    r.created_at,
                    r.guild_id or None,
                    r.actor_id,
                    r.action,
                    r.target,
                    dict(r.detail or {}),
                    r.result,
                )
                for r in rows
            ], total

    # ------------------------------------------------------------------ feature flags

    async def flags(self) -> list[FlagRecord]:
        """Return every stored flag value, global and per guild."""
        async with self._sessions() as session:
            rows = await session.scalars(select(FeatureFlag).order_by(FeatureFlag.name, FeatureFlag.guild_id))
            return [
                FlagRecord(r.name, r.guild_id or None, r.enabled, r.reason, r.updated_by, r.updated_at)
                for r in rows
            ]

    async def set_flag(
        self, name: str, guild_id: str | None, enabled: bool, *, by: str | None, reason: str | None = None
    ) -> None:
        """Store a flag's value everywhere (``guild_id`` None) or in one guild."""
        values = {"enabled": enabled, "reason": (reason or None) and reason[:200], "updated_by": by}
        await self._upsert(FeatureFlag, {"name": name, "guild_id": guild_id or GLOBAL}, values)

    async def clear_flag(self, name: str, guild_id: str | None) -> bool:
        """Remove a stored flag value (a guild then follows the global one); return whether one existed."""
        async with self._sessions() as session:
            result = await session.execute(
                delete(FeatureFlag).where(
                    FeatureFlag.name == name, FeatureFlag.guild_id == (guild_id or GLOBAL)
                )
            )
            await session.commit()
        return bool(getattr(result, "rowcount", 0))

    # ------------------------------------------------------------------ allow and block lists

    async def access_rules(self, platform: str, guild_id: str) -> list[AccessRuleRecord]:
        """Return a guild's allow and block entries (cached)."""
        key = f"{RULES_PREFIX}{platform}:{guild_id}"
        cached = await self._cache.get(key)
        if cached is not None:
            return [AccessRuleRecord(**item) for item in json.loads(cached)]
        async with self._sessions() as session:
            rows = await session.scalars(
                select(AccessRule)
                .where(AccessRule.platform == platform, AccessRule.guild_id == guild_id)
                .order_by(AccessRule.kind, AccessRule.id)
            )
            rules = [AccessRuleRecord(r.kind, r.target_id, r.mode, r.created_by) for r in rows]
        await self._cache.set(key, json.dumps([asdict(r) for r in rules]), ttl_s=CACHE_TTL_S)
        return rules

    async def set_access(
        self, platform: str, guild_id: str, kind: str, target_id: str, mode: str, *, by: str | None
    ) -> None:
        """Allow or block a user, role or channel in a guild (replacing an earlier entry for it)."""
        if kind not in RULE_KINDS or mode not in RULE_MODES:
            raise ValueError(f"an access rule is a {'/'.join(RULE_KINDS)} with mode {'/'.join(RULE_MODES)}")
        keys = {"platform": platform, "guild_id": guild_id, "kind": kind, "target_id": target_id}
        await self._upsert(AccessRule, keys, {"mode": mode, "created_by": by, "created_at": utcnow()})
        await self._cache.delete(f"{RULES_PREFIX}{platform}:{guild_id}")

    async def remove_access(self, platform: str, guild_id: str, kind: str, target_id: str) -> bool:
        """Remove a user's, role's or channel's entry; return whether there was one."""
        async with self._sessions() as session:
            result = await session.execute(
                delete(AccessRule).where(
                    AccessRule.platform == platform,
                    AccessRule.guild_id == guild_id,
                    AccessRule.kind == kind,
                    AccessRule.target_id == target_id,
                )
            )
            await session.commit()
        await self._cache.delete(f"{RULES_PREFIX}{platform}:{guild_id}")
        return bool(getattr(result, "rowcount", 0))

    # ------------------------------------------------------------------ limit overrides

    async def limits(self, platform: str, guild_id: str) -> list[LimitRecord]:
        """Return a guild's limit overrides: the guild's own and its members' (cached)."""
        key = f"{LIMITS_PREFIX}{platform}:{guild_id}"
        cached = await self._cache.get(key)
        if cached is not None:
            return [LimitRecord(**item) for item in json.loads(cached)]
        async with self._sessions() as session:
            rows = await session.scalars(
                select(LimitOverride)
                .where(LimitOverride.platform == platform, LimitOverride.guild_id == guild_id)
                .order_by(LimitOverride.subject_kind, LimitOverride.id)
            )
            limits = [
                LimitRecord(r.subject_kind, r.subject_id or None, r.messages_per_minute, r.tokens_per_day)
                for r in rows
            ]
        await self._cache.set(key, json.dumps([asdict(r) for r in limits]), ttl_s=CACHE_TTL_S)
        return limits

    async def set_limit(
        self,
        platform: str,
        guild_id: str,
        subject_kind: str,
        subject_id: str | None,
        *,
        messages_per_minute: float | None,
        tokens_per_day: int | None,
        by: str | None,
    ) -> None:
        """Override a user's or the guild's limits; both None removes the override."""
        if subject_kind not in ("user", "guild"):
            raise ValueError("a limit applies to a user or a guild")
        keys = {
            "platform": platform,
            "guild_id": guild_id,
            "subject_kind": subject_kind,
            "subject_id": subject_id or GLOBAL,
        }
        if messages_per_minute is None and tokens_per_day is None:
            async with self._sessions() as session:
                await session.execute(
                    delete(LimitOverride).where(*(getattr(LimitOverride, k) == v for k, v in keys.items()))
                )
                await session.commit()
        else:
            values = {
                "messages_per_minute": messages_per_minute,
                "tokens_per_day": tokens_per_day,
                "updated_by": by,
                "updated_at": utcnow(),
            }
            await self._upsert(LimitOverride, keys, values)
        await self._cache.delete(f"{LIMITS_PREFIX}{platform}:{guild_id}")

    # ------------------------------------------------------------------ helpers

    async def _upsert(self, model: Any, keys: dict[str, Any], values: dict[str, Any]) -> None:
        # Portable across SQLite and PostgreSQL: update the row if it is there, else insert it; a concurrent
        # insert of the same keys loses the race on the unique constraint and is retried as an update.
        for _ in range(2):
            async with self._sessions() as session:
                row = await session.scalar(
                    select(model).where(*(getattr(model, k) == v for k, v in keys.items()))
                )
                if row is None:
                    session.add(model(**keys, **values))
                else:
                    for name, value in values.items():
                        setattr(row, name, value)
                    if hasattr(row, "updated_at"):
                        row.updated_at = utcnow()
                try:
                    await session.commit()
                    return
                except IntegrityError:
                    await session.rollback()
        raise RuntimeError(f"could not store {model.__tablename__} row {keys}")
