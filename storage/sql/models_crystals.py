"""Tables of memory crystals: crystals, facets and links.

A crystal belongs to one person in one realm. Every table carries ``user_id`` (cascading from ``users``) so
the export and forget-me sweeps cover it. Migrations own the schema; these classes map it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.sql.models import Base, BigId, UTCDateTime, utcnow


class Crystal(Base):
    """A theme crystallised from one person's memories in one realm."""

    __tablename__ = "crystals"
    __table_args__ = (
        UniqueConstraint("user_id", "realm", "name", name="uq_crystals_name"),
        Index("ix_crystals_user_realm", "user_id", "realm"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    realm: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(100))
    # Where the name came from: "llm", "terms" or "person" (a person's name is never replaced).
    name_source: Mapped[str] = mapped_column(String(16))
    key_terms: Mapped[list[Any]] = mapped_column(JSON, default=list)
    brightness: Mapped[float] = mapped_column(Float, default=0.5)
    hue: Mapped[float] = mapped_column(Float, default=0.0)  # degrees on the colour wheel
    emotion: Mapped[str] = mapped_column(String(32), default="neutral")
    # The mean of the facets' unit vectors, to absorb new memories between formations.
    centroid: Mapped[list[Any]] = mapped_column(JSON, default=list)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A dissolved crystal stays as a marker so formation does not grow the same theme back.
    dissolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while the person has "entered" it: its facets come into the conversation.
    entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    formed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CrystalFacet(Base):
    """One memory in a crystal."""

    __tablename__ = "crystal_facets"
    __table_args__ = (
        Index("ix_crystal_facets_user", "user_id"),
        Index("ix_crystal_facets_memory", "memory_id"),
    )

    crystal_id: Mapped[int] = mapped_column(ForeignKey("crystals.id", ondelete="CASCADE"), primary_key=True)
    memory_id: Mapped[int] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    similarity: Mapped[float] = mapped_column(Float, default=0.0)  # to the crystal's centroid


class CrystalLink(Base):
    """A similarity link from one crystal to a related one of the same person and realm."""

    __tablename__ = "crystal_links"
    __table_args__ = (Index("ix_crystal_links_user", "user_id"),)

    crystal_id: Mapped[int] = mapped_column(ForeignKey("crystals.id", ondelete="CASCADE"), primary_key=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("crystals.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    similarity: Mapped[float] = mapped_column(Float, default=0.0)
