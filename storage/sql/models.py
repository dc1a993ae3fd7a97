"""SQLAlchemy models: the source of truth. The schema itself is made only by the Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real 64-bit key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Store instants as naive UTC and hand them back timezone-aware, the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class AppMeta(Base):
    """Facts about the deployment itself, e.g. which embedding space the vector index holds."""

    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_users_platform_external"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(100))
    # Per-person switches: paused remembering, cross-server recall opt-in, and later features' choices.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScopeRow(Base):
    """A place: one channel of one guild, or a DM channel. An empty guild_id means DM."""

    __tablename__ = "scopes"
    __table_args__ = (UniqueConstraint("platform", "guild_id", "channel_id", name="uq_scopes_place"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    guild_id: Mapped[str] = mapped_column(String(64), default="")
    channel_id: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(8))  # "guild" or "dm"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Per-place switches set by admins (ambient chat, persona...); the row with channel_id '' is guild-wide.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")


class Conversation(Base):
    """One session of one person in one place; ``closed_at`` is set when the session ends."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_open", "user_id", "scope_id", "closed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope_id: Mapped[int] = mapped_column(ForeignKey("scopes.id", ondelete="CASCADE"))
    realm: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set once compression has summarised the session into episodic memories.
    summarised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Turn(Base):
    """One message in a conversation, from the person or from Kindred."""

    __tablename__ = "turns"
    __table_args__ = (
        # A platform message is recorded once per role, however often the gateway delivers it.
        UniqueConstraint("user_id", "message_id", "role", name="uq_turns_message"),
        Index("ix_turns_conversation", "conversation_id", "id"),
        Index("ix_turns_user_realm_time", "user_id", "realm", "created_at"),
        # A channel's turns in order: recall reads what was said there in public, and neighbours (0005).
        Index("ix_turns_scope", "scope_id", "id"),
        # One person's turns in one place in order: the turns either side of a recalled one (0010).
        Index("ix_turns_scope_user", "scope_id", "user_id", "id"),
        # Recall scans a person's cold turns; compression finds old hot ones. Partial, so each index only
        # holds the rows its query wants.
        Index(
            "ix_turns_cold",
            "user_id",
            "realm",
            sqlite_where=sql_text("cold_vector IS NOT NULL"),
            postgresql_where=sql_text("cold_vector IS NOT NULL"),
        ),
        Index(
            "ix_turns_hot",
            "created_at",
            sqlite_where=sql_text("cold_vector IS NULL AND role = 'user'"),
            postgresql_where=sql_text("cold_vector IS NULL AND role = 'user'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope_id: Mapped[int] = mapped_column(ForeignKey("scopes.id", ondelete="CASCADE"))
    realm: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(16))  # "user" or "assistant"
    speaker: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Cold tier: the quantised vector (4- or 8-bit) of an old turn that left the vector index.
    cold_vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    # When recall last brought the turn back from the cold tier; its age for compression counts from here.
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Memory(Base):
    """Something Kindred remembers about one person in one realm, with its validity interval."""

    __tablename__ = "memories"
    __table_args__ = (
        Index("ix_memories_user_realm_valid", "user_id", "realm", "valid_to"),
        Index("ix_memories_user_created", "user_id", "created_at"),
        Index(
            "ix_memories_cold",
            "user_id",
            "realm",
            sqlite_where=sql_text("cold_vector IS NOT NULL"),
            postgresql_where=sql_text("cold_vector IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope_id: Mapped[int] = mapped_column(ForeignKey("scopes.id", ondelete="CASCADE"))
    realm: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))  # fact, episodic, procedural, note
    speaker: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    importance: Mapped[float] = mapped_column(Float, default=0.5)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("memories.id", ondelete="SET NULL"))
    source_turn_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The embedding model that indexed it; None until indexed (reindex picks those up).
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    # Compact cold tier: a quantised vector (4- or 8-bit) kept in SQL when the memory leaves the vector index.
    cold_vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # When recall last brought the memory back from the cold tier; its decay counts from here.
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Job(Base):
    """The SQL outbox: durable background jobs, keyed so that the same work is enqueued once."""

    __tablename__ = "job_outbox"
    __table_args__ = (
        Index("ix_job_outbox_ready", "status", "available_at"),
        # Throughput figures and the pruning of finished jobs read by completion time.
        Index("ix_job_outbox_done", "status", "done_at"),
        # Forget-me removes a person's jobs, and deleting a user cascades here.
        Index("ix_job_outbox_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_key: Mapped[str] = mapped_column(String(200), unique=True)
    job_type: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, running, done, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Urgent jobs are claimed first and never wait for a batch to fill.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# The features' tables live in their own modules; importing them here puts every table on Base.metadata
# (the migrations test compares it with the migrated schema). At the end, so Base exists when they import it.
from storage.sql import models_admin, models_crystals, models_memory, models_support  # noqa: E402, F401
