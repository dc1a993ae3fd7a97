"""Repositories over one AsyncSession. Every read of personal data filters by person and realm.

The storage service resolves a Scope to (user_id, scope_id, realm) and passes those down, so a repository
method cannot be called without saying whose data it is after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from storage.sql.models import AppMeta, Conversation, Memory, ScopeRow, Turn, User, utcnow
from storage.sql.turn_writer import conversation_touch, inserted

# The same statement the turn writer runs when it touches a session just before a turn.
_TOUCH = conversation_touch()


def _insert(session: AsyncSession, table: Any) -> Any:
    # Both dialects offer INSERT .. ON CONFLICT DO NOTHING, which makes "get or create" race-free.
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@dataclass(frozen=True, slots=True)
class ClosedSession:
    """A session closed for idleness, with what the service needs to drop its cached state."""

    user_id: int
    scope_id: int
    platform: str
    external_user_id: str
    guild_id: str
    channel_id: str
    conversation_id: int = 0


@dataclass(frozen=True, slots=True)
class Asking:
    """A person and a place as SQL knows them (None ids for one not seen yet), and the person's settings."""

    user_id: int | None
    scope_id: int | None
    settings: dict[str, Any]


@lru_cache(maxsize=1)
def _asking_statement() -> Executable:
    person = (User.platform == bindparam("platform")) & (User.external_id == bindparam("user"))
    place = (
        (ScopeRow.platform == bindparam("platform"))
        & (ScopeRow.guild_id == bindparam("guild"))
        & (ScopeRow.channel_id == bindparam("channel"))
    )
    return select(
        select(User.id).where(person).scalar_subquery(),
        select(ScopeRow.id).where(place).scalar_subquery(),
        select(User.settings).where(person).scalar_subquery(),
    )


def _asking_params(platform: str, user: str, guild: str | None, channel: str | None) -> dict[str, str]:
    return {"platform": platform, "user": user, "guild": guild or "", "channel": channel or ""}


def asking(conn: Connection, platform: str, user: str, guild: str | None, channel: str | None) -> Asking:
    """Return a person's and a place's ids and the person's settings in one statement, on a blocking
    connection (recall's first read of who asks after a restart); ``PeopleRepo.find`` is the same read
    in a unit of work."""
    user_id, scope_id, settings = conn.execute(
        _asking_statement(), _asking_params(platform, user, guild, channel)
    ).one()
    return Asking(user_id, scope_id, dict(settings or {}))


def user_id_query(platform: str, external_id: str) -> Select[int]:
    """Return the SELECT of a person's row id (no row for someone never seen)."""
    return select(User.id).where(User.platform == platform, User.external_id == external_id)


class PeopleRepo:
    """People and places."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def ensure_user(self, platform: str, external_id: str, display_name: str | None = None) -> int:
        """Return the id of a person, creating the row on first sight."""
        # Read first: an INSERT, even one that conflicts, takes SQLite's write lock, and every known person
        # would then queue behind the background writers just to learn their own id.
        query = user_id_query(platform, external_id)
        known = await self.s.scalar(query)
        if known is not None:
            return int(known)
        stmt = _insert(self.s, User).values(
            platform=platform,
            external_id=external_id,
            display_name=display_name,
            settings={},
            created_at=utcnow(),
        )
        await self.s.execute(stmt.on_conflict_do_nothing(index_elements=["platform", "external_id"]))
        found = await self.s.scalar(query)
        assert found is not None
        return int(found)

    async def find(self, platform: str, user: str, guild: str | None, channel: str | None) -> Asking:
        """Return a person's and a place's ids and the person's settings in one statement (see ``asking``)."""
        found = await self.s.execute(_asking_statement(), _asking_params(platform, user, guild, channel))
        user_id, scope_id, settings = found.one()
        return Asking(user_id, scope_id, dict(settings or {}))

    async def find_user(self, platform: str, external_id: str) -> User | None:
        """Return a person's row, or None if Kindred has never seen them."""
        return await self.s.scalar(
            select(User).where(User.platform == platform, User.external_id == external_id)
        )

    async def ensure_scope(self, platform: str, guild_id: str | None, channel_id: str | None) -> int:
        """Return the id of a place, creating the row on first sight."""
        values = {"platform": platform, "guild_id": guild_id or "", "channel_id": channel_id or ""}
        query = select(ScopeRow.id).where(*(getattr(ScopeRow, k) == v for k, v in values.items()))
        known = await self.s.scalar(query)  # read first, as in ensure_user
        if known is not None:
            return int(known)
        stmt = _insert(self.s, ScopeRow).values(
            **values, kind="dm" if guild_id is None else "guild", created_at=utcnow()
        )
        await self.s.execute(stmt.on_conflict_do_nothing(index_elements=list(values)))
        found = await self.s.scalar(query)
        assert found is not None
        return int(found)

    async def place_settings(self, scope_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Return the settings of these places, in the order given."""
        query = select(ScopeRow.id, ScopeRow.settings).where(ScopeRow.id.in_(scope_ids))
        result = await self.s.execute(query)
        rows: dict[int, dict[str, Any]] = {row[0]: row[1] for row in result.all()}
        return [dict(rows.get(i) or {}) for i in scope_ids]

    async def update_place_settings(self, scope_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into a place's settings (a None value removes the key); return the result."""
        current = (await self.place_settings([scope_id]))[0]
        merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
        await self.s.execute(update(ScopeRow).where(ScopeRow.id == scope_id).values(settings=merged))
        return merged

    async def places_with(self, platform: str, guild_id: str, key: str) -> list[tuple[str, Any]]:
        """Return (channel_id, value) for every channel of a guild whose settings hold ``key``."""
        rows = await self.s.execute(
            select(ScopeRow.channel_id, ScopeRow.settings).where(
                ScopeRow.platform == platform, ScopeRow.guild_id == guild_id
            )
        )
        return [(channel, settings[key]) for channel, settings in rows.all() if settings and key in settings]

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

    async def touch(self, conversation_id: int, now: datetime) -> bool:
        """Record activity on an open session (for idle detection); False if it was closed meanwhile."""
        result = await self.s.execute(_TOUCH, {"c_id": conversation_id, "c_now": now})
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def insert_turn(
        self, statement: Executable, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]] | None:
        """Run the prebuilt turn insert (storage/sql/turn_writer.py); None when the message was recorded."""
        return inserted((await self.s.execute(statement, params)).first())

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
        # By primary key, owner-checked here (see MemoryRepo.by_ids for why).
        return [t for t in await self.turns_with_ids(ids) if t.user_id == user_id and t.realm in realms]

    async def turns_with_ids(self, ids: Sequence[int]) -> list[Turn]:
        """Return the turns with these ids, whoever's they are: the caller checks the owner of each."""
        if not ids:
            return []
        return list(await self.s.scalars(select(Turn).where(Turn.id.in_(ids))))

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

    async def turns_after(self, last_id: int, batch: int) -> list[tuple[Turn, str]]:
        """Return the next ``batch`` person-authored turns after ``last_id``, with their owner's user key."""
        rows = (
            await self.s.execute(
                select(Turn, User.platform, User.external_id)
                .join(User, User.id == Turn.user_id)
                .where(Turn.id > last_id, Turn.role == "user")
                .order_by(Turn.id)
                .limit(batch)
            )
        ).all()
        return [(turn, f"{platform}.{external}") for turn, platform, external in rows]

    async def close_idle(self, cutoff: datetime, now: datetime, limit: int) -> list[ClosedSession]:
        """Close up to ``limit`` open sessions last active before ``cutoff``; return the ones closed."""
        rows = (
            await self.s.execute(
                select(
                    Conversation.id,
                    Conversation.user_id,
                    Conversation.scope_id,
                    User.platform,
                    User.external_id,
                    ScopeRow.guild_id,
                    ScopeRow.channel_id,
                )
                .join(User, User.id == Conversation.user_id)
                .join(ScopeRow, ScopeRow.id == Conversation.scope_id)
                .where(Conversation.closed_at.is_(None), Conversation.last_active_at < cutoff)
                .order_by(Conversation.id)
                .limit(limit)
            )
        ).all()
        if not rows:
            return []
        # The conditions are repeated so that a session touched since the select stays open.
        closed = set(
            await self.s.scalars(
                update(Conversation)
                .where(
                    Conversation.id.in_([row.id for row in rows]),
                    Conversation.closed_at.is_(None),
                    Conversation.last_active_at < cutoff,
                )
                .values(closed_at=now)
                .returning(Conversation.id)
            )
        )
        return [
            ClosedSession(
                row.user_id, row.scope_id, row.platform, row.external_id, row.guild_id, row.channel_id, row.id
            )
            for row in rows
            if row.id in closed
        ]


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
        # Looked up by primary key and owner-checked here: given an owner condition, a planner without
        # statistics (a fresh SQLite file) scans every memory of the person instead.
        rows = await self.s.scalars(select(Memory).where(Memory.id.in_(ids)))
        return [m for m in rows if m.user_id == user_id and m.realm in realms]

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

    async def with_key(self, user_id: int, realm: str, kind: str, key: str) -> list[Memory]:
        """Return every version (current and superseded) of this person's keyed memory in one realm."""
        rows = await self.s.scalars(
            select(Memory)
            .where(
                self._owned(user_id, [realm]),
                Memory.kind == kind,
                Memory.meta["key"].as_string() == key,
            )
            .order_by(Memory.id)
        )
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

    async def current_after(self, last_id: int, batch: int) -> list[tuple[Memory, str]]:
        """Return the next ``batch`` current memories after ``last_id``, with their owner's user key."""
        rows = (
            await self.s.execute(
                select(Memory, User.platform, User.external_id)
                .join(User, User.id == Memory.user_id)
                .where(Memory.id > last_id, Memory.valid_to.is_(None))
                .order_by(Memory.id)
                .limit(batch)
            )
        ).all()
        return [(mem, f"{platform}.{external}") for mem, platform, external in rows]


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

    async def db_epoch(self) -> float:
        """Return the database server's clock in seconds since the epoch."""
        dialect = self.s.bind.dialect.name if self.s.bind is not None else "sqlite"
        if dialect == "postgresql":
            now: Any = func.extract("epoch", func.clock_timestamp())
        else:
            now = (func.julianday("now") - 2440587.5) * 86400.0
        found = await self.s.scalar(select(now))
        assert found is not None
        return float(found)

    async def try_lease(self, key: str, holder: str, ttl_s: float) -> bool:
        """Take the lease at ``key`` if it is free or expired, or renew it if ``holder`` has it."""
        # One clock (the database's) decides expiry, so processes on hosts with skewed clocks still agree.
        now = await self.db_epoch()
        value = {"holder": holder, "expires_at": now + ttl_s}
        inserted = await self.s.execute(
            _insert(self.s, AppMeta)
            .values(key=key, value=value, updated_at=utcnow())
            .on_conflict_do_nothing(index_elements=["key"])
        )
        if inserted.rowcount:  # type: ignore[attr-defined]
            return True
        # A conditional UPDATE is atomic on both backends: of two contenders for an expired lease, the
        # second re-reads the row the first wrote and no longer matches.
        renewed = await self.s.execute(
            update(AppMeta)
            .where(
                AppMeta.key == key,
                or_(
                    AppMeta.value["holder"].as_string() == holder,
                    AppMeta.value["expires_at"].as_float() < now,
                ),
            )
            .values(value=value, updated_at=utcnow())
        )
        return bool(renewed.rowcount)  # type: ignore[attr-defined]

    async def release_lease(self, key: str, holder: str) -> bool:
        """Delete the lease at ``key`` if ``holder`` has it; return whether it did."""
        result = await self.s.execute(
            delete(AppMeta).where(AppMeta.key == key, AppMeta.value["holder"].as_string() == holder)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
