"""The repository behind the memory tiers: cold vectors, compression candidates, session summaries, merges.

Reads that serve recall filter by person and realm like every other repository. The compression sweeps work
across people by design (they run as the scheduler's maintenance job), but every write they make names the
rows by id, and every row they return carries its owner so the caller keeps each person's data apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.sql.models import Conversation, Memory, ScopeRow, Turn, User
from storage.sql.repositories import user_id_query

EPISODIC = "episodic"


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose a row is, and the place it was recorded in: enough to rebuild its Scope and its partition."""

    user_id: int
    platform: str
    external_id: str
    guild_id: str
    channel_id: str

    @property
    def user_key(self) -> str:
        return f"{self.platform}.{self.external_id}"


@dataclass(frozen=True, slots=True)
class TurnCandidate:
    id: int
    user_id: int
    realm: str
    user_key: str
    speaker: str | None
    text: str


@dataclass(frozen=True, slots=True)
class MemoryCandidate:
    id: int
    user_id: int
    realm: str
    user_key: str
    kind: str
    text: str
    importance: float
    created_at: datetime
    valid_from: datetime
    recalled_at: datetime | None

    @property
    def decays_from(self) -> datetime:
        """Return when the memory's decay started: its last recall, else when it was formed.

        An episode is as old as the episode itself, however late it was summarised.
        """
        if self.recalled_at is not None:
            return self.recalled_at
        if self.kind == EPISODIC:
            return min(self.valid_from, self.created_at)
        return self.created_at


@dataclass(frozen=True, slots=True)
class SessionToSummarise:
    conversation_id: int
    realm: str
    started_at: datetime
    owner: Owner


class TierRepo:
    """Cold vectors and the sweeps that compression makes."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    # ------------------------------------------------------------ recall from the cold tier

    async def cold_turns(self, user_id: int, realms: Sequence[str]) -> list[tuple[int, bytes]]:
        """Return (id, quantised vector) of this person's cold turns in these realms."""
        rows = await self.s.execute(
            select(Turn.id, Turn.cold_vector).where(
                Turn.user_id == user_id, Turn.realm.in_(realms), Turn.cold_vector.is_not(None)
            )
        )
        return [(int(i), bytes(v)) for i, v in rows.all() if v is not None]

    async def cold_memories(self, user_id: int, realms: Sequence[str]) -> list[tuple[int, bytes]]:
        """Return (id, quantised vector) of this person's current cold memories in these realms."""
        rows = await self.s.execute(
            select(Memory.id, Memory.cold_vector).where(
                Memory.user_id == user_id,
                Memory.realm.in_(realms),
                Memory.cold_vector.is_not(None),
                Memory.valid_to.is_(None),
            )
        )
        return [(int(i), bytes(v)) for i, v in rows.all() if v is not None]

    async def set_cold(self, model: Any, blobs: dict[int, bytes]) -> None:
        """Store cold vectors by id (``model`` is Turn or Memory)."""
        if blobs:
            await self.s.execute(update(model), [{"id": i, "cold_vector": b} for i, b in blobs.items()])

    async def warm(self, model: Any, user_id: int, ids: Sequence[int], now: datetime) -> None:
        """Clear this person's cold vectors by id and note the recall time (``model`` is Turn or Memory)."""
        if ids:
            await self.s.execute(
                update(model)
                .where(model.id.in_(ids), model.user_id == user_id)
                .values(cold_vector=None, recalled_at=now)
            )

    # ------------------------------------------------------------ archive candidates

    async def old_hot_turns(self, cutoff: datetime, after_id: int, limit: int) -> list[TurnCandidate]:
        """Return the next hot person-authored turns of closed sessions, untouched since ``cutoff``."""
        rows = await self.s.execute(
            select(
                Turn.id, Turn.user_id, Turn.realm, User.platform, User.external_id, Turn.speaker, Turn.text
            )
            .join(User, User.id == Turn.user_id)
            .join(Conversation, Conversation.id == Turn.conversation_id)
            .where(
                Turn.id > after_id,
                Turn.role == "user",
                Turn.cold_vector.is_(None),
                Turn.created_at < cutoff,
                func.coalesce(Turn.recalled_at, Turn.created_at) < cutoff,
                Conversation.closed_at.is_not(None),
            )
            .order_by(Turn.id)
            .limit(limit)
        )
        return [
            TurnCandidate(int(i), int(uid), realm, f"{platform}.{external}", speaker, text)
            for i, uid, realm, platform, external, speaker, text in rows.all()
        ]

    async def old_hot_memories(self, cutoff: datetime, after_id: int, limit: int) -> list[MemoryCandidate]:
        """Return the next hot, unpinned memories untouched since ``cutoff`` (the caller judges decay)."""
        rows = await self.s.execute(
            select(
                Memory.id,
                Memory.user_id,
                Memory.realm,
                User.platform,
                User.external_id,
                Memory.kind,
                Memory.text,
                Memory.importance,
                Memory.created_at,
                Memory.valid_from,
                Memory.recalled_at,
            )
            .join(User, User.id == Memory.user_id)
            .where(
                Memory.id > after_id,
                Memory.pinned.is_(False),
                Memory.cold_vector.is_(None),
                or_(Memory.recalled_at.is_(None), Memory.recalled_at < cutoff),
                or_(Memory.created_at < cutoff, and_(Memory.kind == EPISODIC, Memory.valid_from < cutoff)),
            )
            .order_by(Memory.id)
            .limit(limit)
        )
        return [
            MemoryCandidate(
                int(i), int(uid), realm, f"{platform}.{ext}", kind, text, float(imp), made, since, recalled
            )
            for i, uid, realm, platform, ext, kind, text, imp, made, since, recalled in rows.all()
        ]

    async def hot_ids(self, user_id: int, realm: str) -> tuple[list[int], list[int]]:
        """Return the ids of this person's turns and memories in a realm that belong in the vector index."""
        turns = await self.s.scalars(
            select(Turn.id).where(
                Turn.user_id == user_id,
                Turn.realm == realm,
                Turn.role == "user",
                Turn.cold_vector.is_(None),
                Turn.text != "",
            )
        )
        memories = await self.s.scalars(
            select(Memory.id).where(
                Memory.user_id == user_id,
                Memory.realm == realm,
                Memory.cold_vector.is_(None),
                Memory.valid_to.is_(None),
            )
        )
        return [int(i) for i in turns], [int(i) for i in memories]

    async def user_id_of(self, user_key: str) -> int | None:
        """Return the row id of a person by user key ("platform.external id")."""
        platform, _, external = user_key.partition(".")
        found = await self.s.scalar(user_id_query(platform, external))
        return None if found is None else int(found)

    # ------------------------------------------------------------ session summaries

    async def sessions_to_summarise(
        self, cutoff: datetime, after_id: int, limit: int
    ) -> list[SessionToSummarise]:
        """Return the next closed sessions quiet since ``cutoff`` that were never summarised, in id order."""
        rows = await self.s.execute(
            select(
                Conversation.id,
                Conversation.realm,
                Conversation.started_at,
                Conversation.user_id,
                User.platform,
                User.external_id,
                ScopeRow.guild_id,
                ScopeRow.channel_id,
            )
            .join(User, User.id == Conversation.user_id)
            .join(ScopeRow, ScopeRow.id == Conversation.scope_id)
            .where(
                Conversation.id > after_id,
                Conversation.closed_at.is_not(None),
                Conversation.summarised_at.is_(None),
                Conversation.last_active_at < cutoff,
            )
            .order_by(Conversation.id)
            .limit(limit)
        )
        return [
            SessionToSummarise(int(cid), realm, started, Owner(int(uid), platform, external, guild, channel))
            for cid, realm, started, uid, platform, external, guild, channel in rows.all()
        ]

    async def session_turns(self, conversation_id: int, user_id: int) -> list[Turn]:
        """Return every turn of one session of this person, in order."""
        rows = await self.s.scalars(
            select(Turn)
            .where(Turn.conversation_id == conversation_id, Turn.user_id == user_id)
            .order_by(Turn.id)
        )
        return list(rows)

    async def mark_summarised(self, conversation_id: int, now: datetime) -> bool:
        """Mark a session summarised unless someone else did first; return whether this call did."""
        result = await self.s.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.summarised_at.is_(None))
            .values(summarised_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def unmark_summarised(self, conversation_id: int) -> None:
        """Hand a session back to the next compression run (its summary failed)."""
        await self.s.execute(
            update(Conversation).where(Conversation.id == conversation_id).values(summarised_at=None)
        )

    # ------------------------------------------------------------ near-duplicate merging

    async def memory_groups_since(self, after_id: int) -> tuple[list[tuple[int, str, str]], int]:
        """Return (user id, realm, user key) of everyone with memories after ``after_id``, and the top id."""
        top = await self.s.scalar(select(func.max(Memory.id)))
        if top is None or int(top) <= after_id:
            return [], after_id
        rows = await self.s.execute(
            select(Memory.user_id, Memory.realm, User.platform, User.external_id)
            .join(User, User.id == Memory.user_id)
            .where(Memory.id > after_id, Memory.id <= top)
            .distinct()
        )
        groups = [
            (int(uid), realm, f"{platform}.{external}") for uid, realm, platform, external in rows.all()
        ]
        return sorted(groups), int(top)

    async def mergeable(self, user_id: int, realm: str) -> list[Memory]:
        """Return this person's current memories in a realm, oldest first."""
        rows = await self.s.scalars(
            select(Memory)
            .where(
                Memory.user_id == user_id,
                Memory.realm == realm,
                Memory.valid_to.is_(None),
                Memory.superseded_by.is_(None),
            )
            .order_by(Memory.id)
        )
        return list(rows)
