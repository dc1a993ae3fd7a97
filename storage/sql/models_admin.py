"""Tables of administration: audit log, feature flags, allow and block lists, limits.

Migrations own the schema; these classes map it. These tables describe places and moderation decisions, not
what a person said: people appear by their platform id (an actor, a target), so a forget-me request cannot
be used to escape a block or erase the record of an admin's action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.sql.models import Base, BigId, UTCDateTime, utcnow

# The guild id of a rule or flag that applies everywhere (NULL would defeat the unique constraints).
GLOBAL = ""


class AuditEntry(Base):
    """One admin action: who did what to which target, where, when, and how it ended."""

    __tablename__ = "admin_audit"
    __table_args__ = (Index("ix_admin_audit_guild_time", "guild_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    platform: Mapped[str] = mapped_column(String(32))
    guild_id: Mapped[str] = mapped_column(String(64))  # GLOBAL for actions outside a guild
    actor_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[str] = mapped_column(String(16))  # ok | refused | failed


class FeatureFlag(Base):
    """A runtime switch for a feature, everywhere (guild_id GLOBAL) or in one guild."""

    __tablename__ = "feature_flags"
    __table_args__ = (UniqueConstraint("name", "guild_id", name="uq_feature_flags_name_guild"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    guild_id: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(200))
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccessRule(Base):
    """An allow or block entry for a user, a role or a channel of one guild."""

    __tablename__ = "access_rules"
    __table_args__ = (
        UniqueConstraint("platform", "guild_id", "kind", "target_id", name="uq_access_rules_target"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    guild_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # user | role | channel
    target_id: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))  # allow | block
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LimitOverride(Base):
    """Per-user or per-guild limits that replace the configured defaults (None keeps the default)."""

    __tablename__ = "limit_overrides"
    __table_args__ = (
        UniqueConstraint(
            "platform", "guild_id", "subject_kind", "subject_id", name="uq_limit_overrides_subject"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    guild_id: Mapped[str] = mapped_column(String(64))
    subject_kind: Mapped[str] = mapped_column(String(8))  # user | guild
    subject_id: Mapped[str] = mapped_column(String(64))  # the user id, or GLOBAL for the guild itself
    messages_per_minute: Mapped[float | None] = mapped_column(Float)
    tokens_per_day: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
