"""Tables of emotional support: profiles, strategies and their history.

Migrations own the schema; these classes map it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.sql.models import Base, BigId, UTCDateTime, utcnow


class EmotionalProfile(Base):
    """A person's consent, chosen support style, baseline mood and recent trajectory (one row each)."""

    __tablename__ = "emotional_profiles"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # None: the person never chose, so the guild's (or the deployment's) default applies.
    opted_in: Mapped[bool | None] = mapped_column(Boolean)
    preferred_strategy: Mapped[str | None] = mapped_column(String(32))
    # A slow moving average of valence: the person's usual mood, -1..1.
    baseline_valence: Mapped[float | None] = mapped_column(Float)
    last_emotion: Mapped[str | None] = mapped_column(String(32))
    last_valence: Mapped[float | None] = mapped_column(Float)
    last_intensity: Mapped[float | None] = mapped_column(Float)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The newest readings, [{"at", "emotion", "valence", "intensity"}], and per-day sums for /mood.
    recent: Mapped[list[Any]] = mapped_column(JSON, default=list)
    days: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserSupportStrategy(Base):
    """How well one way of supporting (listening, advice, ...) has worked for one person."""

    __tablename__ = "user_support_strategies"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Evidence for and against (fractional: a mood change counts in part); bounded by the learner.
    successes: Mapped[float] = mapped_column(Float, default=0.0)
    failures: Mapped[float] = mapped_column(Float, default=0.0)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float] = mapped_column(Float, default=0.5)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StrategyHistory(Base):
    """One change of a person's strategy score: from what, to what, why and when."""

    __tablename__ = "strategy_history"
    __table_args__ = (Index("ix_strategy_history_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    strategy: Mapped[str] = mapped_column(String(32))
    old_score: Mapped[float] = mapped_column(Float)
    new_score: Mapped[float] = mapped_column(Float)
    cause: Mapped[str] = mapped_column(String(16))  # reaction, feedback, mood
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
