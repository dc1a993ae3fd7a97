"""Recall: one search over the lexical index, the vector tier and the cold tier, fused and re-ranked.

``StorageService.search`` resolves who is asking and where into a ``Visibility`` and calls ``Recall.search``;
nothing else reads recall data. When the vector tier is down (or holds another embedding space) the search
runs on the lexical index, the time window and recency alone, and the service's health says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.compression import ColdHit, MemoryTiers
from storage.embedding.base import EmbeddingError
from storage.recall import lexical, rows
from storage.recall.fusion import Evidence, Key, Scored, Weights, collect, fuse, rerank
from storage.recall.lexical import Visibility
from storage.recall.terms import search_tokens
from storage.recall.timeframe import Timeframe, find_timeframe, without_timeframe
from storage.records import Recalled
from storage.sql.models import utcnow
from storage.vectors.base import Partition, VectorsUnavailable

# In a server channel, the vector partitions of at most this many other recent speakers are searched; older
# speakers' public turns there are still found lexically.
MAX_SHARED_SPEAKERS = 8
# Who spoke in a channel lately changes slowly; a newcomer's partition is searched within this many seconds.
SPEAKER_TTL_S = 60.0
SPEAKER_CACHE_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Asker:
    """Who is asking and from where, resolved by the service (never built from caller input)."""

    visibility: Visibility
    user_key: str
    realm: str


@dataclass(frozen=True, slots=True)
class Found:
    """One recalled row with its score parts, and the turns around it when asked for."""

    scored: Scored
    neighbours: list[rows.Row] = field(default_factory=list)


class Recall:
    """Hybrid recall over SQL full-text, the vector index and the cold tier."""

    def __init__(
        self,
        engine: AsyncEngine,
        tiers: MemoryTiers,
        on_vectors_failed: Callable[[Exception], None],
        on_vectors_ok: Callable[[], None],
        weights: Weights | None = None,
    ) -> None:
        # Recall only reads, and reads rows rather than entities: a plain connection, without the ORM session.
        self._engine = engine
        # The vector index, the embedder and the space are the tiers' own: one index, one space.
        self._tiers = tiers
        self._failed = on_vectors_failed
        self._ok = on_vectors_ok
        self.weights = weights or Weights()
        self._dialect = self._engine.dialect.name
        self._speaker_cache: dict[tuple[int, int], tuple[float, list[str]]] = {}

    async def search(
        self,
        asker: Asker,
        query: str,
        k: int,
        kinds: Sequence[str],
        *,
        semantic: bool,
        now: datetime | None = None,
        neighbours: int = 0,
        history: bool = False,
    ) -> list[Found]:
        """Return up to ``k`` items for ``query`` best first; ``neighbours`` turns either side come along,
        and ``history`` adds superseded memories (ranked after current ones)."""
        if k <= 0:
            return []
        now = now or utcnow()
        frame = find_timeframe(query, now)
        tokens = search_tokens(without_timeframe(query, frame))
        v = asker.visibility
        n = max(self.weights.candidates, k)
        shared = await self._speakers(v) if semantic and "turn" in kinds else []
        # Few connections per search: each one is a pool checkout, and on PostgreSQL a BEGIN and a ROLLBACK
        # round trip. The SQL side and the vector side run at once: one waits on the database, the other on
        # Chroma.
        async with self._engine.connect() as conn:
            if semantic:
                (lexical_hits, windowed), nearest = await asyncio.gather(
                    self._lexical(conn, v, tokens, frame, n, kinds, history),
                    self._semantic(asker, shared, query, max(self.weights.semantic_candidates, k), kinds),
                )
            else:
                lexical_hits, windowed = await self._lexical(conn, v, tokens, frame, n, kinds, history)
                nearest = None
        # The cold tier reads (rarely: it is cached) in a unit of work of its own, so never while this search
        # holds a connection: with every pooled connection held by a search waiting for a second one, the
        # pool would stand still until its timeout (200 simultaneous conversations did exactly that).
        semantic_hits, cold = (await self._with_cold(asker, nearest, n, kinds)) if nearest else ([], {})
        async with self._engine.connect() as conn:
            evidence = collect(lexical_hits, semantic_hits, set(cold))
            for turn_id in windowed:
                # Said inside the window the query names: a candidate even when no word matched.
                evidence.setdefault(("turn", turn_id), Evidence())
            fused = fuse(evidence, self.weights, nearest is not None)
            wanted_turns = [i for kind, i in fused if kind == "turn"]
            wanted_memories = [i for kind, i in fused if kind == "memory"]
            loaded = {("turn", i): r for i, r in (await rows.turns(conn, v, wanted_turns)).items()}
            loaded.update(
                {
                    ("memory", i): r
                    for i, r in (await rows.memories(conn, v, wanted_memories, history)).items()
                }
            )
            ranked = rerank(fused, loaded, self.weights, now, frame, frozenset(tokens))
            if self.weights.neighbour > 0 and "turn" in kinds:
                ranked = await self._spread(conn, v, ranked)
            ranked = ranked[:k]
            anchors = [s.row for s in ranked if s.row.kind == "turn"] if neighbours > 0 else []
            around = await rows.neighbours(conn, v, anchors, neighbours, neighbours) if anchors else {}
        out = [Found(s, around.get(s.row.id, [])) if s.row.kind == "turn" else Found(s) for s in ranked]
        self._promote(asker, out, cold)
        return out

    async def _lexical(
        self,
        conn: AsyncConnection,
        v: Visibility,
        tokens: list[str],
        frame: Timeframe | None,
        n: int,
        kinds: Sequence[str],
        history: bool,
    ) -> tuple[list[tuple[Key, float]], list[int]]:
        hits: list[tuple[Key, float]] = []
        if "turn" in kinds:
            found = await lexical.search_turns(conn, self._dialect, v, tokens, n)
            hits += [(("turn", h.id), h.score) for h in found]
        if "memory" in kinds:
            found = await lexical.search_memories(conn, self._dialect, v, tokens, n, history)
            hits += [(("memory", h.id), h.score) for h in found]
        windowed = (
            await rows.turns_between(conn, v, frame.start, frame.end, n)
            if frame is not None and "turn" in kinds
            else []
        )
        return hits, windowed

    async def _speakers(self, v: Visibility) -> list[str]:
        """Return the other recent speakers of the asker's channel (cached briefly: every recall needs it)."""
        if v.channel_scope_id is None:
            return []
        key = (v.channel_scope_id, v.user_id)
        cached = self._speaker_cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._engine.connect() as conn:
            found = await rows.channel_speakers(conn, v.channel_scope_id, v.user_id, MAX_SHARED_SPEAKERS)
        if len(self._speaker_cache) >= SPEAKER_CACHE_ENTRIES:
            self._speaker_cache.clear()
        self._speaker_cache[key] = (time.monotonic() + SPEAKER_TTL_S, found)
        return found

    async def _spread(self, conn: AsyncConnection, v: Visibility, ranked: list[Scored]) -> list[Scored]:
        """Give the turns either side of the best turns a share of their score (a question and its answer
        are said next to each other, and often only one of them shares words with the query)."""
        best: dict[Key, Scored] = {(s.row.kind, s.row.id): s for s in ranked}
        sources = [s for s in ranked if s.row.kind == "turn"][: self.weights.neighbour_sources]
        around = await rows.adjacent(conn, v, [s.row for s in sources], self.weights.neighbour_radius)
        for source in sources:
            for distance, row in around.get(source.row.id, []):
                share = self.weights.neighbour**distance * source.score
                known = best.get(("turn", row.id))
                if known is not None and known.score >= share:
                    continue
                reasons = dict(known.reasons) if known else {}
                reasons.update(neighbour=share, score=share)
                best[("turn", row.id)] = Scored(row, share, reasons)
        return sorted(best.values(), key=lambda s: (s.score, s.row.created_at), reverse=True)

    async def _semantic(
        self, asker: Asker, shared: list[str], query: str, n: int, kinds: Sequence[str]
    ) -> tuple[np.ndarray, list[tuple[Key, float]]] | None:
        """Return the query vector and the vector tier's hits, or None when it or the embedder is down."""
        try:
            vector = (await self._tiers.embedder.embed([query]))[0]
            # Turns far outnumber memories, so a turn search filters by id here: Chroma's own ``where`` costs
            # an over-fetch with metadata, about twice the time. Memories alone are few enough to need it.
            only_memories = "turn" not in kinds
            where = {"kind": "memory"} if only_memories else None
            v = asker.visibility
            partitions = [Partition(asker.user_key, realm) for realm in v.realms]
            # Other people's public turns in this channel live in their own partitions (forget-me drops
            # those); rows.turns re-checks every hit against the visibility, so a turn said elsewhere is
            # dropped.
            partitions += [Partition(key, asker.realm) for key in shared]
            hits = await self._tiers.vectors.query(self._tiers.space, partitions, vector, n, where)
        except (VectorsUnavailable, EmbeddingError) as exc:
            self._failed(exc)
            return None
        self._ok()
        found = [(_key(h.id), 1.0 - h.distance) for h in hits]
        return vector, [(key, similarity) for key, similarity in found if key[0] in kinds]

    async def _with_cold(
        self,
        asker: Asker,
        nearest: tuple[np.ndarray, list[tuple[Key, float]]],
        n: int,
        kinds: Sequence[str],
    ) -> tuple[list[tuple[Key, float]], dict[Key, ColdHit]]:
        """Add the asker's cold-tier items, scored exactly from their quantised vectors."""
        vector, found = nearest
        v = asker.visibility
        cold_hits = await self._tiers.cold_hits(v.user_id, list(v.realms), vector, n, kinds)
        cold = {(c.kind, c.id): c for c in cold_hits}
        return [*found, *((key, c.similarity) for key, c in cold.items())], cold

    def _promote(self, asker: Asker, out: list[Found], cold: dict[Key, ColdHit]) -> None:
        # Recalled from the cold tier: back into the index, since the person is talking about it again. In
        # the background: an index write takes tens of milliseconds that the reply need not wait for.
        warmed = [
            (cold[(f.scored.row.kind, f.scored.row.id)], f.scored.row.realm, f.scored.row.created_at)
            for f in out
            if (f.scored.row.kind, f.scored.row.id) in cold
        ]
        self._tiers.promote_soon(asker.visibility.user_id, asker.user_key, warmed)


def _key(raw: str) -> Key:
    return ("memory" if raw[0] == "m" else "turn", int(raw[1:]))


def recalled(found: Found) -> Recalled:
    """Return the public record of a recalled row, with its neighbours as context."""
    row, s = found.scored.row, found.scored
    context = tuple(
        Recalled(n.kind, n.id, n.text, n.created_at, 0.0, {"neighbour_of": float(row.id)}, n.speaker, n.realm)
        for n in found.neighbours
    )
    return Recalled(
        row.kind, row.id, row.text, row.created_at, s.score, s.reasons, row.speaker, row.realm, context
    )
