"""Repositories over one AsyncSession. Every read of personal data filters by person and realm.

The storage service resolves a Scope to (user_id, scope_id, realm) and passes those down, so a repository
method cannot be called without saying whose data it is after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.sql.models import AppMeta, Conversation, Memory, ScopeRow, Turn, User, utcnow


def _insert(session: AsyncSession, table: Any) -> Any:
    # Both dialects offer INSERT .. ON CONFLICT DO NOTHING, which makes "get or create" race-free.
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


class PeopleRepo:
    """People and places."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def ensure_user(self, platform: str, external_id: str, display_name: str | None = None) -> int:
        """Return the id of a person, creating the row on first sight."""
        stmt = _insert(self.s, User).values(
            platform=platform,
            external_id=external_id,
            display_name=display_name,
            settings={},
            created_at=utcnow(),
        )
        await self.s.execute(stmt.on_conflict_do_nothing(index_elements=["platform", "external_id"]))
        found = await self.s.scalar(
            select(User.id).where(User.platform == platform, User.external_id == external_id)
        )
        assert found is not None
        return int(found)

    async def find_user(self, platform: str, external_id: str) -> User | None:
        """Return a person's row, or None if Kindred has never seen them."""
        return await self.s.scalar(
            select(User).where(User.platform == platform, User.external_id == external_id)
        )

    async def ensure_scope(self, platform: str, guild_id: str | None, channel_id: str | None) -> int:
        """Return the id of a place, creating the row on first sight."""
        values = {"platform": platform, "guild_id": guild_id or "", "channel_id": channel_id or ""}
        stmt = _insert(self.s, ScopeRow).values(
            **values, kind="dm" if guild_id is None else "guild", created_at=utcnow()
        )
        await self.s.execute(stmt.on_conflict_do_nothing(index_elements=list(values)))
        found = await self.s.scalar(
            select(ScopeRow.id).where(*(getattr(ScopeRow, k) == v for k, v in values.items()))
        )
        assert found is not None
        return int(found)

    async def user_settings(self, user_id: int) -> dict[str, Any]:
        """Return a person's settings mapping."""
        return dict(await self.s.scalar(select(User.settings).where(User.id == user_id)) or {})

    async def update_user_settings(self, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into a person's settings and return the result."""
        merged = {**await self.user_settings(user_id), **changes}
        await self.s.execute(update(User).where(User.id == user_id).values(settings=merged))
        return merged

    async def realms_of(self, user_id: int) -> list[str]:
        """Return every realm in which this person has memories or turns."""
        rows = await self.s.scalars(
            select(Memory.realm)
            .where(Memory.user_id == user_id)
            .union(select(Turn.realm).where(Turn.user_id == user_id))
        )
        return sorted(set(rows))


class ConversationRepo:
    """Sessions and their turns."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def open_conversation(self, user_id: int, scope_id: int, realm: str, now: datetime) -> int:
        """Return the id of the person's open session in this place, starting one if none is open."""
        found = await self.s.scalar(
            select(Conversation.id)
            .where(
                Conversation.user_id == user_id,
                Conversation.scope_id == scope_id,
                Conversation.closed_at.is_(None),
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        )
        if found is not None:
            return int(found)
        row = Conversation(
            user_id=user_id, scope_id=scope_id, realm=realm, started_at=now, last_active_at=now
        )
        self.s.add(row)
        await self.s.flush()
        return row.id

    async def close_open(self, user_id: int, scope_id: int, now: datetime) -> int:
        """Close the person's open session(s) in this place; return how many were closed."""
        result = await self.s.execute(
            update(Conversation)
            .where(
                Conversation.user_id == user_id,
                Conversation.scope_id == scope_id,
                Conversation.closed_at.is_(None),
            )
            .values(closed_at=now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def touch(self, conversation_id: int, now: datetime) -> None:
        """Record activity on a session (for idle detection)."""
        await self.s.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.last_active_at < now)
            .values(last_active_at=now)
        )

    async def add_turn(self, turn: Turn) -> Turn:
        """Insert a turn and return it with its id."""
        self.s.add(turn)
        await self.s.flush()
        return turn

    async def turn_by_message(self, user_id: int, message_id: str, role: str) -> Turn | None:
        """Return the turn already recorded for a platform message, if any."""
        return await self.s.scalar(
            select(Turn).where(Turn.user_id == user_id, Turn.message_id == message_id, Turn.role == role)
        )

    async def recent_turns(self, conversation_id: int, user_id: int, limit: int) -> list[Turn]:
        """Return the newest ``limit`` turns of a session, oldest first."""
        rows = await self.s.scalars(
            select(Turn)
            .where(Turn.conversation_id == conversation_id, Turn.user_id == user_id)
            .order_by(Turn.id.desc())
            .limit(limit)
        )
        return list(reversed(rows.all()))

    async def turns_by_ids(self, user_id: int, realms: Sequence[str], ids: Sequence[int]) -> list[Turn]:
        """Return the turns with these ids that belong to this person in these realms."""
        if not ids:
            return []
        rows = await self.s.scalars(
            select(Turn).where(Turn.id.in_(ids), Turn.user_id == user_id, Turn.realm.in_(realms))
        )
        return list(rows)

    async def lexical_turns(
        self, user_id: int, realms: Sequence[str], terms: Sequence[str], limit: int
    ) -> list[Turn]:
        """Return this person's newest turns containing any of ``terms`` (the degraded recall path)."""
        if not terms:
            return []
        rows = await self.s.scalars(
            select(Turn)
            .where(
                Turn.user_id == user_id,
                Turn.realm.in_(realms),
                Turn.role == "user",
                or_(*(func.lower(Turn.text).contains(t) for t in terms)),
            )
            .order_by(Turn.id.desc())
            .limit(limit)
        )
        return list(rows)

    async def count_turns(self) -> int:
        """Return how many turns are stored in all."""
        return int(await self.s.scalar(select(func.count()).select_from(Turn)) or 0)

    async def iter_turns(self, batch: int) -> AsyncIterator[list[tuple[Turn, str]]]:
        """Yield every person-authored turn with its owner's user key, in id order, ``batch`` at a time."""
        last = 0
        while True:
            rows = (
                await self.s.execute(
                    select(Turn, User.platform, User.external_id)
                    .join(User, User.id == Turn.user_id)
                    .where(Turn.id > last, Turn.role == "user")
                    .order_by(Turn.id)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return
            yield [(turn, f"{platform}.{external}") for turn, platform, external in rows]
            last = rows[-1][0].id


class MemoryRepo:
    """Memories, always within one person and a set of realms."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    def _owned(self, user_id: int, realms: Sequence[str]) -> Any:
        return and_(Memory.user_id == user_id, Memory.realm.in_(realms))

    async def add(self, memory: Memory) -> Memory:
        """Insert a memory and return it with its id."""
        self.s.add(memory)
        await self.s.flush()
        return memory

    async def get(self, user_id: int, realms: Sequence[str], memory_id: int) -> Memory | None:
        """Return one memory if it belongs to this person in these realms."""
        return await self.s.scalar(select(Memory).where(Memory.id == memory_id, self._owned(user_id, realms)))

    async def by_ids(self, user_id: int, realms: Sequence[str], ids: Sequence[int]) -> list[Memory]:
        """Return the memories with these ids that belong to this person in these realms."""
        if not ids:
            return []
        rows = await self.s.scalars(select(Memory).where(Memory.id.in_(ids), self._owned(user_id, realms)))
        return list(rows)

    async def page(
        self,
        user_id: int,
        realms: Sequence[str],
        *,
        current_only: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Memory]:
        """Return a page of this person's memories, newest first."""
        stmt = select(Memory).where(self._owned(user_id, realms))
        if current_only:
            stmt = stmt.where(Memory.valid_to.is_(None))
        rows = await self.s.scalars(stmt.order_by(Memory.id.desc()).limit(limit).offset(offset))
        return list(rows)

    async def lexical(
        self, user_id: int, realms: Sequence[str], terms: Sequence[str], limit: int
    ) -> list[Memory]:
        """Return this person's newest current memories containing any of ``terms``."""
        if not terms:
            return []
        rows = await self.s.scalars(
            select(Memory)
            .where(
                self._owned(user_id, realms),
                Memory.valid_to.is_(None),
                or_(*(func.lower(Memory.text).contains(t) for t in terms)),
            )
            .order_by(Memory.id.desc())
            .limit(limit)
        )
        return list(rows)

    async def delete(self, user_id: int, realms: Sequence[str], memory_id: int) -> bool:
        """Delete one memory of this person; return whether it existed."""
        result = await self.s.execute(
            delete(Memory).where(Memory.id == memory_id, self._owned(user_id, realms))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def mark_indexed(self, ids: Sequence[int], model_id: str | None) -> None:
        """Record which embedding space holds these memories (None: not indexed)."""
        if ids:
            await self.s.execute(update(Memory).where(Memory.id.in_(ids)).values(embedding_model=model_id))

    async def count(self) -> int:
        """Return how many memories are stored in all."""
        return int(await self.s.scalar(select(func.count()).select_from(Memory)) or 0)

    async def iter_current(self, batch: int) -> AsyncIterator[list[tuple[Memory, str]]]:
        """Yield every current memory with its owner's user key, in id order, ``batch`` at a time."""
        last = 0
        while True:
            rows = (
                await self.s.execute(
                    select(Memory, User.platform, User.external_id)
                    .join(User, User.id == Memory.user_id)
                    .where(Memory.id > last, Memory.valid_to.is_(None))
                    .order_by(Memory.id)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return
            yield [(mem, f"{platform}.{external}") for mem, platform, external in rows]
            last = rows[-1][0].id


class MetaRepo:
    """Deployment-wide facts, such as the recorded embedding space."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, key: str) -> dict[str, Any] | None:
        """Return the value stored under ``key``."""
        row = await self.s.get(AppMeta, key)
        return dict(row.value) if row is not None else None

    async def put(self, key: str, value: dict[str, Any]) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        row = await self.s.get(AppMeta, key)
        if row is None:
            self.s.add(AppMeta(key=key, value=value, updated_at=utcnow()))
        else:
            row.value = value
            row.updated_at = utcnow()
