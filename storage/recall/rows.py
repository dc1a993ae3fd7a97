"""The rows recall returns, read back from SQL under the same ``Visibility`` as the search itself.

Both indexes are derived (the vector tier may be stale, another person's id may come back from a shared
channel), so every hit is re-read here with the visibility condition before it can be returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.recall.lexical import Visibility
from storage.sql.models import Memory, Turn, User

# How far back in a channel to look for the people whose public turns a recall there may read.
PARTICIPANT_WINDOW = 2_000


@dataclass(frozen=True, slots=True)
class Row:
    """A recalled turn or memory, with what re-ranking needs."""

    kind: str
    id: int
    text: str
    speaker: str | None
    realm: str
    created_at: datetime
    scope_id: int
    importance: float = 0.5
    valid_to: datetime | None = None
    pinned: bool = False


def visible_turn(v: Visibility) -> ColumnElement[bool]:
    """Return the SQL condition for turns this visibility may read."""
    mine = and_(Turn.user_id == v.user_id, Turn.realm.in_(v.realms))
    shared = Turn.scope_id == v.channel_scope_id if v.channel_scope_id is not None else None
    return and_(Turn.role == "user", mine if shared is None else or_(mine, shared))


# Plain columns rather than ORM entities: recall reads a hundred rows per query and builds no objects.
TURN_COLUMNS = (Turn.id, Turn.text, Turn.speaker, Turn.realm, Turn.created_at, Turn.scope_id, Turn.meta)


def _turn_rows(found: Iterable[Any]) -> list[Row]:
    # A turn said while its author paused remembering is kept for that conversation only, never recalled.
    return [
        Row("turn", t.id, t.text, t.speaker, t.realm, t.created_at, t.scope_id)
        for t in found
        if not (t.meta or {}).get("paused")
    ]


async def turns(session: AsyncSession, v: Visibility, ids: Sequence[int]) -> dict[int, Row]:
    """Return the visible turns with these ids."""
    if not ids:
        return {}
    found = await session.execute(select(*TURN_COLUMNS).where(Turn.id.in_(list(ids)), visible_turn(v)))
    return {r.id: r for r in _turn_rows(found)}


MEMORY_COLUMNS = (
    Memory.id,
    Memory.text,
    Memory.speaker,
    Memory.realm,
    Memory.created_at,
    Memory.scope_id,
    Memory.importance,
    Memory.valid_to,
    Memory.pinned,
)


async def memories(session: AsyncSession, v: Visibility, ids: Sequence[int], history: bool) -> dict[int, Row]:
    """Return this person's current memories with these ids (and superseded ones with ``history``)."""
    if not ids:
        return {}
    mine = and_(Memory.id.in_(list(ids)), Memory.user_id == v.user_id, Memory.realm.in_(v.realms))
    found = await session.execute(
        select(*MEMORY_COLUMNS).where(mine if history else and_(mine, Memory.valid_to.is_(None)))
    )
    return {
        m.id: Row(
            "memory",
            m.id,
            m.text,
            m.speaker,
            m.realm,
            m.created_at,
            m.scope_id,
            float(m.importance),
            m.valid_to,
            bool(m.pinned),
        )
        for m in found
    }


async def turns_between(
    session: AsyncSession, v: Visibility, start: datetime, end: datetime, limit: int
) -> list[int]:
    """Return the ids of the newest visible turns said in ``[start, end)``."""
    found = await session.scalars(
        select(Turn.id)
        .where(visible_turn(v), Turn.created_at >= start, Turn.created_at < end)
        .order_by(Turn.created_at.desc())
        .limit(limit)
    )
    return [int(i) for i in found]


async def neighbours(session: AsyncSession, v: Visibility, anchor: Row, before: int, after: int) -> list[Row]:
    """Return the visible turns said just before and after ``anchor`` in the same place, in order."""
    near = and_(Turn.scope_id == anchor.scope_id, visible_turn(v))
    earlier = await session.execute(
        select(*TURN_COLUMNS).where(near, Turn.id < anchor.id).order_by(Turn.id.desc()).limit(before)
    )
    later = await session.execute(
        select(*TURN_COLUMNS).where(near, Turn.id > anchor.id).order_by(Turn.id).limit(after)
    )
    return [*_turn_rows(reversed(earlier.all())), *_turn_rows(later)]


async def adjacent(
    session: AsyncSession, v: Visibility, anchors: Sequence[Row], radius: int = 1
) -> dict[int, list[tuple[int, Row]]]:
    """Return, for each anchor turn, (distance, turn) for the visible turns up to ``radius`` either side of
    it in its place.

    One statement for all anchors: each side is a small ordered lookup on (scope_id, id).
    """
    if not anchors or radius <= 0:
        return {}
    sides = []
    for anchor in anchors:
        near = and_(Turn.scope_id == anchor.scope_id, visible_turn(v))
        earlier = select(Turn.id).where(near, Turn.id < anchor.id).order_by(Turn.id.desc()).limit(radius)
        later = select(Turn.id).where(near, Turn.id > anchor.id).order_by(Turn.id).limit(radius)
        sides += [Turn.id.in_(earlier), Turn.id.in_(later)]
    found = _turn_rows(await session.execute(select(*TURN_COLUMNS).where(or_(*sides))))
    out: dict[int, list[tuple[int, Row]]] = {}
    for anchor in anchors:
        here = [r for r in found if r.scope_id == anchor.scope_id]
        before = sorted((r for r in here if r.id < anchor.id), key=lambda r: -r.id)[:radius]
        after = sorted((r for r in here if r.id > anchor.id), key=lambda r: r.id)[:radius]
        out[anchor.id] = [(d + 1, r) for side in (before, after) for d, r in enumerate(side)]
    return out


async def channel_speakers(session: AsyncSession, scope_id: int, exclude: int, limit: int) -> list[str]:
    """Return the user keys of up to ``limit`` other people who spoke in a place lately, latest first."""
    recent = (
        select(Turn.user_id, Turn.id)
        .where(Turn.scope_id == scope_id, Turn.role == "user")
        .order_by(Turn.id.desc())
        .limit(PARTICIPANT_WINDOW)
        .subquery()
    )
    found = await session.execute(
        select(User.platform, User.external_id)
        .join(recent, recent.c.user_id == User.id)
        .where(User.id != exclude)
        .group_by(User.id, User.platform, User.external_id)
        .order_by(func.max(recent.c.id).desc())
        .limit(limit)
    )
    return [f"{platform}.{external}" for platform, external in found.all()]
