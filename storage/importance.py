"""The memory feature's data: learned importance weights, usage statistics, preferences and per-memory scores.

Every method takes the person's Scope and touches only their rows. The learned weights are read through a
short-lived cache entry (ephemeral: SQL holds the truth). The scoring rule itself lives with the memory
feature; storage only offers the ``scorer`` slot that ``add_memory`` asks for a new memory's importance.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import Insert

from storage.cache import Cache
from storage.scope import Scope
from storage.sql.models import Memory, Turn, User, utcnow
from storage.sql.models_memory import ImportancePattern, MemoryPreference, MemoryStats
from storage.sql.repositories import PeopleRepo, user_id_query
from storage.sql.uow import UnitOfWork

WEIGHTS_PREFIX = "impw:"
PAUSED_PREFIX = "mpause:"
# The person's weights change only when they pin, forget, correct or something is recalled; a minute of
# staleness in another process is harmless, and this process drops its copy at once.
WEIGHTS_TTL_S = 300.0
PAUSED_TTL_S = 60.0
SIGNALS = ("pins", "unpins", "recalls", "corrections", "forgets")


@dataclass(frozen=True, slots=True)
class NewMemory:
    """A memory about to be stored, as the importance scorer sees it."""

    text: str
    kind: str
    importance: float  # what its author proposed (reflection's extractor, a summary's default)
    pinned: bool
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScoredMemory:
    """A current memory with what its importance is computed from."""

    id: int
    text: str
    kind: str
    importance: float
    pinned: bool
    created_at: datetime
    recalled_at: datetime | None
    recalls: int
    meta: dict[str, Any]


# (the person's scope, the memory) -> its importance in [0, 1]
Scorer = Callable[[Scope, NewMemory], Awaitable[float]]


class ImportanceStore:
    """Learned weights, statistics and preferences of each person's memory, and their memories' scores."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cache: Cache,
        writes: Callable[[Callable[[Connection], Any]], Awaitable[Any]],
    ) -> None:
        self._sessions = sessions
        self._cache = cache
        # Runs a small blocking write in one go off the loop (recall's connections: storage.sql.reads).
        self._writes = writes
        # Set by the memory feature at startup; without it new memories keep the importance proposed.
        self.scorer: Scorer | None = None

    async def _user_id(self, session: AsyncSession, scope: Scope) -> int:
        return await PeopleRepo(session).ensure_user(scope.platform, scope.user_id)

    async def score_new(self, scope: Scope, memory: NewMemory) -> float:
        """Return the importance a new memory is stored with: the scorer's, else the one proposed.

        The proposed value is kept in ``memory.meta["proposed"]``, so a later rescore starts from it.
        """
        if self.scorer is None:
            return memory.importance
        memory.meta.setdefault("proposed", memory.importance)
        return min(1.0, max(0.0, await self.scorer(scope, memory)))

    # ------------------------------------------------------------ learned weights

    async def weights(self, scope: Scope) -> dict[str, float]:
        """Return the person's learned weights (only those learned; the feature supplies the defaults)."""
        key = f"{WEIGHTS_PREFIX}{scope.user_key}"
        cached = await self._cache.get(key)
        if cached is not None:
            return {str(k): float(v) for k, v in json.loads(cached).items()}
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow.session, scope)
            rows = await uow.session.execute(
                select(ImportancePattern.feature, ImportancePattern.weight).where(
                    ImportancePattern.user_id == user_id
                )
            )
            learned = {str(f): float(w) for f, w in rows.all()}
            await uow.commit()
        await self._cache.set(key, json.dumps(learned), ttl_s=WEIGHTS_TTL_S)
        return learned

    async def learn(self, scope: Scope, signal: str, weights: Mapping[str, float]) -> None:
        """Store the person's new weights after a ``signal`` (pins, forgets...) and count the signal."""
        if signal not in SIGNALS:
            raise ValueError(f"unknown memory signal {signal!r}; expected one of {', '.join(SIGNALS)}")
        now = utcnow()
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow.session, scope)
            existing = {
                row.feature: row
                for row in await uow.session.scalars(
                    select(ImportancePattern).where(ImportancePattern.user_id == user_id)
                )
            }
            for feature, weight in weights.items():
                row = existing.get(feature)
                if row is None:
                    uow.session.add(
                        ImportancePattern(
                            user_id=user_id, feature=feature, weight=weight, updates=1, updated_at=now
                        )
                    )
                elif row.weight != weight:
                    row.weight, row.updates, row.updated_at = weight, row.updates + 1, now
            await self._count(uow.session, user_id, {signal: 1})
            await uow.commit()
        await self._cache.delete(f"{WEIGHTS_PREFIX}{scope.user_key}")

    async def _count(self, session: AsyncSession, user_id: int, counts: Mapping[str, int]) -> None:
        await session.execute(_counted(session.get_bind().dialect.name, user_id, counts, utcnow()))

    async def stats(self, scope: Scope) -> dict[str, int]:
        """Return how often the person pinned, unpinned, recalled, corrected and forgot memories."""
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow.session, scope)
            row = await uow.session.get(MemoryStats, user_id)
            await uow.commit()
        return {name: int(getattr(row, name)) if row is not None else 0 for name in SIGNALS}

    # ------------------------------------------------------------ per-memory state

    async def current_memories(self, scope: Scope, limit: int = 2000) -> list[ScoredMemory]:
        """Return the person's newest current memories in every realm, with what scoring needs."""
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow.session, scope)
            rows = await uow.session.scalars(
                select(Memory)
                .where(Memory.user_id == user_id, Memory.valid_to.is_(None))
                .order_by(Memory.id.desc())
                .limit(limit)
            )
            found = [_scored(row) for row in rows]
            await uow.commit()
        return found

    async def memory(self, scope: Scope, memory_id: int) -> ScoredMemory | None:
        """Return one of the person's memories (current or not, any realm), or None."""
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow.session, scope)
            row = await uow.session.scalar(
                select(Memory).where(Memory.user_id == user_id, Memory.id == memory_id)
            )
            await uow.commit()
        return _scored(row) if row is not None else None

    async def set_importance(self, scope: Scope, scores: Mapping[int, float]) -> int:
        """Write importance scores to the person's memories; return how many rows changed."""
        changed = 0
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow.session, scope)
            for memory_id, score in scores.items():
                result = await uow.session.execute(
                    update(Memory)
                    .where(Memory.user_id == user_id, Memory.id == memory_id, Memory.importance != score)
                    .values(importance=min(1.0, max(0.0, score)))
                )
                changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
            await uow.commit()
        return changed

    async def set_pinned(self, scope: Scope, memory_id: int, pinned: bool) -> bool:
        """Pin or unpin a current memory of the person; return False when they have no such memory."""
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow.session, scope)
            result = await uow.session.execute(
                update(Memory)
                .where(Memory.user_id == user_id, Memory.id == memory_id, Memory.valid_to.is_(None))
                .values(pinned=pinned)
            )
            await uow.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def ensure_key(self, scope: Scope, memory_id: int) -> str | None:
        """Return the memory's version key, giving a keyless one its own so a correction can supersede it."""
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow.session, scope)
            row = await uow.session.scalar(
                select(Memory).where(Memory.user_id == user_id, Memory.id == memory_id)
            )
            if row is None:
                return None
            key = (row.meta or {}).get("key")
            if not key:
                key = f"memory:{row.id}"
                row.meta = {**(row.meta or {}), "key": key, "value": row.text}
            await uow.commit()
        return str(key)

    async def recalled_since(self, since: datetime, limit: int = 1000) -> list[Scope]:
        """Return the people (as scopes with no place) with a memory recalled since ``since``."""
        async with UnitOfWork(self._sessions) as uow:
            rows = await uow.session.execute(
                select(User.platform, User.external_id)
                .join(Memory, Memory.user_id == User.id)
                .where(Memory.recalled_at >= since)
                .distinct()
                .limit(limit)
            )
            return [Scope(user_id=external, platform=platform) for platform, external in rows.all()]

    async def note_recalled(self, scope: Scope, memory_ids: Sequence[int]) -> int:
        """Count that these memories were recalled and used: their decay restarts; return how many.

        An id listed n times counts n recalls (a caller may batch several turns' uses into one write). One
        blocking unit of work off the loop: it runs beside replies, whose own INSERTs wait for its lock.
        """
        if not memory_ids:
            return 0
        return int(await self._writes(partial(_note_recalled, scope, Counter(memory_ids), utcnow())))

    # ------------------------------------------------------------ pause

    async def paused(self, scope: Scope) -> bool:
        """Return whether the person has paused remembering."""
        key = f"{PAUSED_PREFIX}{scope.user_key}"
        cached = await self._cache.get(key)
        if cached is not None:
            return cached == "1"
        async with UnitOfWork(self._sessions) as uow:
            found = await PeopleRepo(uow.session).find_user(scope.platform, scope.user_id)
            pref = await uow.session.get(MemoryPreference, found.id) if found is not None else None
        paused = bool(pref is not None and pref.paused)
        await self._cache.set(key, "1" if paused else "0", ttl_s=PAUSED_TTL_S)
        return paused

    async def set_paused(self, scope: Scope, paused: bool) -> bool:
        """Pause or resume remembering; return whether this changed anything."""
        now = utcnow()
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow.session, scope)
            pref = await uow.session.get(MemoryPreference, user_id)
            changed = (pref is not None and pref.paused) != paused
            if pref is None:
                pref = MemoryPreference(user_id=user_id, paused=paused, updated_at=now)
                uow.session.add(pref)
            pref.paused, pref.updated_at = paused, now
            pref.paused_at = now if paused else None
            await uow.commit()
        await self._cache.delete(f"{PAUSED_PREFIX}{scope.user_key}")
        return changed

    async def erase_turns(self, scope: Scope, turn_ids: Sequence[int]) -> int:
        """Delete the person's turns with these ids (what was said while paused); return how many."""
        if not turn_ids:
            return 0
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow.session, scope)
            result = await uow.session.execute(
                delete(Turn).where(Turn.user_id == user_id, Turn.id.in_(list(turn_ids)))
            )
            await uow.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _scored(row: Memory) -> ScoredMemory:
    meta = dict(row.meta or {})
    return ScoredMemory(
        id=row.id,
        text=row.text,
        kind=row.kind,
        importance=row.importance,
        pinned=row.pinned,
        created_at=row.created_at,
        recalled_at=row.recalled_at,
        recalls=int(meta.get("recalls", 0)),
        meta=meta,
    )


def _note_recalled(scope: Scope, uses: Counter[int], now: datetime, conn: Connection) -> int:
    user_id = conn.scalar(user_id_query(scope.platform, scope.user_id))
    if user_id is None:
        return 0
    rows = conn.execute(
        select(Memory.id, Memory.meta).where(Memory.user_id == user_id, Memory.id.in_(list(uses)))
    ).all()
    if not rows:
        return 0
    counted = [
        {"b_id": i, "b_meta": {**(meta or {}), "recalls": int((meta or {}).get("recalls", 0)) + uses[i]}}
        for i, meta in rows
    ]
    meta_type = Memory.__table__.c.meta.type
    conn.execute(
        update(Memory)
        .where(Memory.id == bindparam("b_id"))
        .values(meta=bindparam("b_meta", type_=meta_type), recalled_at=now),
        counted,
    )
    conn.execute(_counted(conn.dialect.name, user_id, {"recalls": sum(uses[i] for i, _ in rows)}, now))
    return len(rows)


def _counted(dialect: str, user_id: int, counts: Mapping[str, int], now: datetime) -> Insert:
    """Return the statement adding ``counts`` to a person's memory statistics, creating their row at first."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    added = {name: getattr(MemoryStats, name) + amount for name, amount in counts.items()}
    return (
        insert(MemoryStats)
        .values(user_id=user_id, **{**dict.fromkeys(SIGNALS, 0), **counts}, updated_at=now)
        .on_conflict_do_update(index_elements=[MemoryStats.user_id], set_={**added, "updated_at": now})
    )
