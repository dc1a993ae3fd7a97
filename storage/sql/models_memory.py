"""Tables of the memory feature: importance statistics, patterns and preferences per person.

Migrations own the schema; these classes map it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.sql.models import Base, BigId, UTCDateTime, utcnow


class MemoryStats(Base):
    """How a person has used their memories: what they pinned, recalled, corrected and forgot."""

    __tablename__ = "memory_user_stats"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    pins: Mapped[int] = mapped_column(Integer, default=0)
    unpins: Mapped[int] = mapped_column(Integer, default=0)
    recalls: Mapped[int] = mapped_column(Integer, default=0)
    corrections: Mapped[int] = mapped_column(Integer, default=0)
    forgets: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportancePattern(Base):
    """One learned weight of a person's importance model (a cue such as ``people`` or ``emotion``)."""

    __tablename__ = "importance_patterns"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    feature: Mapped[str] = mapped_column(String(32), primary_key=True)
    weight: Mapped[float] = mapped_column(Float)
    updates: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemoryPreference(Base):
    """A person's memory choices: whether Kindred is remembering them right now."""

    __tablename__ = "memory_preferences"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
