"""The crystals facade: one person's memory crystals in one realm, their facets, links and focus.

Every read and write takes a Scope and touches only that person's rows in that scope's realm (never the
cross-realm recall opt-in: a crystal is a theme of one place). The clustering itself is the crystals
feature's plain Python; this module only reads its inputs (memories and their embeddings) and stores its
result, checking that every facet really is a memory of that person in that realm.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.cache import Cache
from storage.embedding.base import Embedder, Vectors
from storage.scope import Scope
from storage.sql.models import Memory, User, utcnow
from storage.sql.models_crystals import Crystal, CrystalFacet, CrystalLink
from storage.sql.uow import UnitOfWork

FOCUS_PREFIX = "crystal-focus:"
FOCUS_TTL_S = 60.0
MAX_NAME_CHARS = 100
PARKED = "~" * 70


class CrystalError(Exception):
    """A crystal request that cannot be done; the text is safe to show the person."""


@dataclass(frozen=True, slots=True)
class SourceMemory:
    """A memory as formation sees it."""

    id: int
    text: str
    importance: float
    pinned: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Facet:
    """One memory in a crystal, with its similarity to the crystal's centre."""

    memory_id: int
    text: str
    importance: float
    similarity: float
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Link:
    other_id: int
    name: str
    similarity: float


@dataclass(frozen=True, slots=True)
class CrystalRecord:
    """A crystal as the feature shows it; ``facets`` and ``links`` are filled by ``get``, else empty."""

    id: int
    name: str
    name_source: str
    key_terms: list[str]
    brightness: float
    hue: float
    emotion: str
    centroid: list[float]
    pinned: bool
    dissolved: bool
    entered: bool
    facet_count: int
    formed_at: datetime
    facet_ids: list[int] = field(default_factory=list)
    facets: list[Facet] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)


@dataclass(slots=True)
class CrystalDraft:
    """A crystal as formation wants it stored; ``crystal_id`` None makes a new one."""

    crystal_id: int | None
    name: str
    name_source: str
    key_terms: list[str]
    brightness: float
    hue: float
    emotion: str
    centroid: list[float]
    pinned: bool
    dissolved: bool
    facets: list[tuple[int, float]]  # (memory id, similarity to the centroid)


def realm_scope(platform: str, external_id: str, realm: str) -> Scope:
    """Return a Scope standing for a person in a realm (no channel), e.g. for the daily formation sweep."""
    return Scope(user_id=external_id, guild_id=None if realm == "dm" else realm[1:], platform=platform)


class CrystalStore:
    """Crystals in SQL, the focus marker in the cache, embeddings through the storage's embedder."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], cache: Cache, embedder: Embedder) -> None:
        self._sessions = sessions
        self._cache = cache
        self._embedder = embedder

    # ------------------------------------------------------------------ formation input and output

    async def formation_input(self, scope: Scope, limit: int) -> tuple[list[SourceMemory], Vectors]:
        """Return up to ``limit`` newest current memories of the person in this realm and their vectors."""
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow, scope)
            if user_id is None:
                return [], np.zeros((0, self._embedder.dimension), dtype=np.float32)
            rows = await uow.session.scalars(
                select(Memory)
                .where(Memory.user_id == user_id, Memory.realm == scope.realm, Memory.valid_to.is_(None))
                .order_by(Memory.created_at.desc(), Memory.id.desc())
                .limit(limit)
            )
            memories = [SourceMemory(m.id, m.text, m.importance, m.pinned, m.created_at) for m in rows]
        memories.sort(key=lambda m: m.id)
        return memories, await self.embed([m.text for m in memories])

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed texts with the storage's embedding model (unit vectors)."""
        if not texts:
            return np.zeros((0, self._embedder.dimension), dtype=np.float32)
        return await self._embedder.embed(list(texts))

    async def unplaced_since(self, scope: Scope, since: datetime) -> list[SourceMemory]:
        """Return the person's current memories in this realm made after ``since`` and in no crystal."""
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow, scope)
            if user_id is None:
                return []
            placed = select(CrystalFacet.memory_id).where(CrystalFacet.user_id == user_id)
            rows = await uow.session.scalars(
                select(Memory).where(
                    Memory.user_id == user_id,
                    Memory.realm == scope.realm,
                    Memory.valid_to.is_(None),
                    Memory.created_at > since,
                    Memory.id.not_in(placed),
                )
            )
            return [SourceMemory(m.id, m.text, m.importance, m.pinned, m.created_at) for m in rows]

    async def save_formation(
        self, scope: Scope, drafts: Sequence[CrystalDraft], links: Sequence[tuple[int, int, float]]
    ) -> list[int]:
        """Replace the person's crystals in this realm with ``drafts``; return their ids in draft order.

        ``links`` name drafts by index. Existing crystals not among the drafts are removed. A facet that is
        not a current memory of this person in this realm is refused: nothing is written.
        """
        now = utcnow()
        async with UnitOfWork(self._sessions) as uow:
            user_id = await uow.people.ensure_user(scope.platform, scope.user_id)
            owned = set(
                await uow.session.scalars(
                    select(Memory.id).where(Memory.user_id == user_id, Memory.realm == scope.realm)
                )
            )
            stray = {m for d in drafts for m, _ in d.facets} - owned
            if stray:
                raise ValueError(f"{len(stray)} facet(s) are not memories of this person in {scope.realm}")
            existing = {
                c.id: c
                for c in await uow.session.scalars(
                    select(Crystal).where(Crystal.user_id == user_id, Crystal.realm == scope.realm)
                )
            }
            kept = {d.crystal_id for d in drafts if d.crystal_id is not None}
            if kept - set(existing):
                raise ValueError("a draft names a crystal this person does not have here")
            if existing:
                await uow.session.execute(
                    delete(CrystalLink).where(CrystalLink.crystal_id.in_(list(existing)))
                )
                await uow.session.execute(
                    delete(CrystalFacet).where(CrystalFacet.crystal_id.in_(list(existing)))
                )
            gone = [i for i in existing if i not in kept]
            if gone:
                await uow.session.execute(delete(Crystal).where(Crystal.id.in_(gone)))
            # Names are unique per person and realm: park the kept ones first so two can swap names. A parked
            # name is longer than any name a person or formation gives (at most 60), so it collides with none.
            for crystal_id in kept:
                existing[crystal_id].name = f"{PARKED}{crystal_id}"
            await uow.session.flush()
            ids: list[int] = []
            for draft in drafts:
                row = (
                    existing[draft.crystal_id]
                    if draft.crystal_id is not None
                    else Crystal(user_id=user_id, realm=scope.realm, created_at=now)
                )
                row.name = draft.name[:MAX_NAME_CHARS]
                row.name_source = draft.name_source
                row.key_terms = list(draft.key_terms)
                row.brightness = float(draft.brightness)
                row.hue = float(draft.hue)
                row.emotion = draft.emotion
                row.centroid = [round(float(v), 6) for v in draft.centroid]
                row.pinned = draft.pinned
                row.dissolved_at = (row.dissolved_at or now) if draft.dissolved else None
                row.formed_at = now
                if draft.crystal_id is None:
                    uow.session.add(row)
                await uow.session.flush()
                ids.append(row.id)
                uow.session.add_all(
                    CrystalFacet(crystal_id=row.id, memory_id=m, user_id=user_id, similarity=float(s))
                    for m, s in draft.facets
                )
            for a, b, similarity in links:
                for one, other in ((ids[a], ids[b]), (ids[b], ids[a])):
                    uow.session.add(
                        CrystalLink(
                            crystal_id=one, other_id=other, user_id=user_id, similarity=float(similarity)
                        )
                    )
            await uow.commit()
        await self._forget_focus(scope)
        return ids

    async def add_facets(self, scope: Scope, facets: Sequence[tuple[int, int, float]]) -> int:
        """Add (crystal id, memory id, similarity) facets of this person here; return how many were added."""
        if not facets:
            return 0
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow, scope)
            if user_id is None:
                return 0
            crystals = set(
                await uow.session.scalars(
                    select(Crystal.id).where(Crystal.user_id == user_id, Crystal.realm == scope.realm)
                )
            )
            memories = set(
                await uow.session.scalars(
                    select(Memory.id).where(Memory.user_id == user_id, Memory.realm == scope.realm)
                )
            )
            rows = [
                CrystalFacet(crystal_id=c, memory_id=m, user_id=user_id, similarity=float(s))
                for c, m, s in facets
                if c in crystals and m in memories
            ]
            uow.session.add_all(rows)
            await uow.commit()
        return len(rows)

    # ------------------------------------------------------------------ reading

    async def list_crystals(self, scope: Scope, *, include_dissolved: bool = False) -> list[CrystalRecord]:
        """Return the person's crystals here, brightest first."""
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow, scope)
            if user_id is None:
                return []
            return await self._records(uow.session, user_id, scope.realm, include_dissolved)

    async def get(self, scope: Scope, crystal_id: int) -> CrystalRecord | None:
        """Return one live crystal with its facets (most central first) and links, or None."""
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow, scope)
            if user_id is None:
                return None
            records = await self._records(uow.session, user_id, scope.realm, False, crystal_id)
            if not records:
                return None
            record = records[0]
            facet_rows = await uow.session.execute(
                select(Memory, CrystalFacet.similarity)
                .join(CrystalFacet, CrystalFacet.memory_id == Memory.id)
                .where(
                    CrystalFacet.crystal_id == crystal_id,
                    Memory.user_id == user_id,
                    Memory.valid_to.is_(None),
                )
                .order_by(CrystalFacet.similarity.desc(), Memory.id)
            )
            facets = [
                Facet(m.id, m.text, m.importance, float(sim), m.created_at) for m, sim in facet_rows.all()
            ]
            link_rows = await uow.session.execute(
                select(CrystalLink.other_id, Crystal.name, CrystalLink.similarity)
                .join(Crystal, Crystal.id == CrystalLink.other_id)
                .where(
                    CrystalLink.crystal_id == crystal_id,
                    CrystalLink.user_id == user_id,
                    Crystal.dissolved_at.is_(None),
                )
                .order_by(CrystalLink.similarity.desc())
            )
            links = [Link(int(i), str(n), float(s)) for i, n, s in link_rows.all()]
        return replace(record, facets=facets, links=links)

    async def find(self, scope: Scope, name: str) -> CrystalRecord | None:
        """Return the live crystal with this name (any case; else the one whose name starts with it)."""
        wanted = name.strip().casefold()
        if not wanted:
            return None
        crystals = await self.list_crystals(scope)
        match = next((c for c in crystals if c.name.casefold() == wanted), None)
        if match is None:
            starts = [c for c in crystals if c.name.casefold().startswith(wanted)]
            match = starts[0] if len(starts) == 1 else None
        return await self.get(scope, match.id) if match is not None else None

    async def last_formed(self, scope: Scope) -> datetime | None:
        """Return when the person's crystals here were last formed, or None if never."""
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow, scope)
            if user_id is None:
                return None
            found: datetime | None = await uow.session.scalar(
                select(func.max(Crystal.formed_at)).where(
                    Crystal.user_id == user_id, Crystal.realm == scope.realm
                )
            )
            return found

    async def pending_formation(self, min_memories: int) -> list[Scope]:
        """Return (person, realm) scopes whose memories changed since their crystals were last formed."""
        async with UnitOfWork(self._sessions) as uow:
            newest = await uow.session.execute(
                select(Memory.user_id, Memory.realm, func.max(Memory.created_at), func.count(Memory.id))
                .where(Memory.valid_to.is_(None))
                .group_by(Memory.user_id, Memory.realm)
            )
            formed = {
                (u, r): at
                for u, r, at in (
                    await uow.session.execute(
                        select(Crystal.user_id, Crystal.realm, func.max(Crystal.formed_at)).group_by(
                            Crystal.user_id, Crystal.realm
                        )
                    )
                ).all()
            }
            due = [
                (u, r)
                for u, r, latest, count in newest.all()
                if count >= min_memories and (formed.get((u, r)) is None or latest > formed[(u, r)])
            ]
            people = {
                u.id: u
                for u in await uow.session.scalars(select(User).where(User.id.in_({u for u, _ in due})))
            }
        return [realm_scope(people[u].platform, people[u].external_id, r) for u, r in due if u in people]

    # ------------------------------------------------------------------ the person's controls

    async def rename(self, scope: Scope, crystal_id: int, name: str) -> CrystalRecord:
        """Give a crystal the person's own name, which formation keeps."""
        clean = " ".join(name.split())
        if not 1 <= len(clean) <= 60:
            raise CrystalError("A crystal's name must be 1 to 60 characters.")
        async with UnitOfWork(self._sessions) as uow:
            row = await self._owned_row(uow, scope, crystal_id)
            clash = await uow.session.scalar(
                select(Crystal.id).where(
                    Crystal.user_id == row.user_id,
                    Crystal.realm == scope.realm,
                    func.lower(Crystal.name) == clean.lower(),
                    Crystal.id != crystal_id,
                )
            )
            if clash is not None:
                raise CrystalError(f"You already have a crystal called {clean!r}.")
            row.name, row.name_source = clean, "person"
            await uow.commit()
        return await self._must_get(scope, crystal_id)

    async def set_pinned(self, scope: Scope, crystal_id: int, pinned: bool) -> CrystalRecord:
        """Pin (or unpin) a crystal: a pinned crystal is never dissolved or renamed by formation."""
        async with UnitOfWork(self._sessions) as uow:
            row = await self._owned_row(uow, scope, crystal_id)
            row.pinned = pinned
            await uow.commit()
        return await self._must_get(scope, crystal_id)

    async def dissolve(self, scope: Scope, crystal_id: int) -> str:
        """Dissolve a crystal (formation will not grow the same theme back); return its name."""
        async with UnitOfWork(self._sessions) as uow:
            row = await self._owned_row(uow, scope, crystal_id)
            name = row.name
            row.dissolved_at, row.entered_at, row.pinned = utcnow(), None, False
            await uow.commit()
        await self._forget_focus(scope)
        return name

    async def enter(self, scope: Scope, crystal_id: int) -> CrystalRecord:
        """Focus the person's conversations here on a crystal until they leave it."""
        async with UnitOfWork(self._sessions) as uow:
            row = await self._owned_row(uow, scope, crystal_id)
            await uow.session.execute(
                update(Crystal)
                .where(Crystal.user_id == row.user_id, Crystal.realm == scope.realm)
                .values(entered_at=None)
            )
            row.entered_at = utcnow()
            await uow.commit()
        await self._forget_focus(scope)
        return await self._must_get(scope, crystal_id)

    async def leave(self, scope: Scope) -> str | None:
        """Leave the entered crystal; return its name, or None when none was entered."""
        async with UnitOfWork(self._sessions) as uow:
            user_id = await self._user_id(uow, scope)
            if user_id is None:
                return None
            name = await uow.session.scalar(
                select(Crystal.name).where(
                    Crystal.user_id == user_id, Crystal.realm == scope.realm, Crystal.entered_at.is_not(None)
                )
            )
            await uow.session.execute(
                update(Crystal)
                .where(Crystal.user_id == user_id, Crystal.realm == scope.realm)
                .values(entered_at=None)
            )
            await uow.commit()
        await self._forget_focus(scope)
        return name

    async def entered(self, scope: Scope) -> CrystalRecord | None:
        """Return the crystal the person has entered here (asked on every turn, so cached briefly)."""
        key = _focus_key(scope)
        cached = await self._cache.get(key)
        if cached is not None:
            crystal_id = json.loads(cached)
        else:
            async with UnitOfWork(self._sessions) as uow:
                user_id = await self._user_id(uow, scope)
                crystal_id = (
                    None
                    if user_id is None
                    else await uow.session.scalar(
                        select(Crystal.id).where(
                            Crystal.user_id == user_id,
                            Crystal.realm == scope.realm,
                            Crystal.entered_at.is_not(None),
                            Crystal.dissolved_at.is_(None),
                        )
                    )
                )
            await self._cache.set(key, json.dumps(crystal_id), ttl_s=FOCUS_TTL_S)
        return await self.get(scope, int(crystal_id)) if crystal_id is not None else None

    # ------------------------------------------------------------------ internals

    async def _user_id(self, uow: UnitOfWork, scope: Scope) -> int | None:
        user = await uow.people.find_user(scope.platform, scope.user_id)
        return user.id if user is not None else None

    async def _owned_row(self, uow: UnitOfWork, scope: Scope, crystal_id: int) -> Crystal:
        user_id = await self._user_id(uow, scope)
        row = await uow.session.get(Crystal, crystal_id)
        if (
            user_id is None
            or row is None
            or row.user_id != user_id
            or row.realm != scope.realm
            or row.dissolved_at is not None
        ):
            raise CrystalError("I can't find that crystal of yours here.")
        return row

    async def _must_get(self, scope: Scope, crystal_id: int) -> CrystalRecord:
        record = await self.get(scope, crystal_id)
        if record is None:
            raise CrystalError("I can't find that crystal of yours here.")
        return record

    async def _records(
        self,
        session: AsyncSession,
        user_id: int,
        realm: str,
        include_dissolved: bool,
        crystal_id: int | None = None,
    ) -> list[CrystalRecord]:
        query = select(Crystal).where(Crystal.user_id == user_id, Crystal.realm == realm)
        if not include_dissolved:
            query = query.where(Crystal.dissolved_at.is_(None))
        if crystal_id is not None:
            query = query.where(Crystal.id == crystal_id)
        rows = list(await session.scalars(query))
        facet_ids: dict[int, list[int]] = {r.id: [] for r in rows}
        if rows:
            pairs = await session.execute(
                select(CrystalFacet.crystal_id, CrystalFacet.memory_id)
                .join(Memory, Memory.id == CrystalFacet.memory_id)
                .where(CrystalFacet.crystal_id.in_(list(facet_ids)), Memory.valid_to.is_(None))
            )
            for crystal, memory in pairs.all():
                facet_ids[crystal].append(int(memory))
        records = [
            CrystalRecord(
                id=r.id,
                name=r.name,
                name_source=r.name_source,
                key_terms=[str(t) for t in r.key_terms or []],
                brightness=r.brightness,
                hue=r.hue,
                emotion=r.emotion,
                centroid=[float(v) for v in r.centroid or []],
                pinned=r.pinned,
                dissolved=r.dissolved_at is not None,
                entered=r.entered_at is not None,
                facet_count=len(facet_ids[r.id]),
                formed_at=r.formed_at,
                facet_ids=sorted(facet_ids[r.id]),
            )
            for r in rows
        ]
        records.sort(key=lambda c: (-c.brightness, c.name.casefold()))
        return records

    async def _forget_focus(self, scope: Scope) -> None:
        await self._cache.delete(_focus_key(scope))


def _focus_key(scope: Scope) -> str:
    return f"{FOCUS_PREFIX}{scope.user_key}:{scope.realm}"
