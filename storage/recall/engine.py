"""Recall: one search over the lexical index, the vector tier and the cold tier, fused and re-ranked.

``StorageService.search`` resolves who is asking and where into a ``Visibility`` and calls ``Recall.search``;
nothing else reads recall data. When the vector tier is down (or holds another embedding space) the search
runs on the lexical index, the time window and recency alone, and the service's health says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TypeVar

import numpy as np
from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.compression import ColdHit, MemoryTiers
from storage.embedding.base import EmbeddingError
from storage.recall import fusion, lexical, rows
from storage.recall.fusion import Evidence, Key, Scored, Weights, collect, fuse, rerank
from storage.recall.lexical import Visibility
from storage.recall.terms import search_tokens, without_names
from storage.recall.timeframe import Timeframe, find_timeframe, without_timeframe
from storage.records import Recalled
from storage.sql.models import utcnow
from storage.sql.reads import SqlReads
from storage.vectors.base import Partition, VectorsUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

# In a server channel, the vector partitions of at most this many other recent speakers are searched; older
# speakers' public turns there are still found lexically.
MAX_SHARED_SPEAKERS = 8
# Who spoke in a channel lately changes slowly; a newcomer's partition is searched within this many seconds.
SPEAKER_TTL_S = 60.0
SPEAKER_CACHE_ENTRIES = 10_000
# The names of at most this many recent speakers of a channel are left out of the turns' full-text query.
MAX_CHANNEL_NAMES = 64


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
        # Recall only reads, and reads rows rather than entities: plain connections, without the ORM session.
        self._reads = SqlReads(engine)
        # The vector index, the embedder and the space are the tiers' own: one index, one space.
        self._tiers = tiers
        self._failed = on_vectors_failed
        self._ok = on_vectors_ok
        self.weights = weights or Weights()
        self._dialect = engine.dialect.name
        self._speaker_cache: dict[tuple[int, int], tuple[float, list[str], list[str]]] = {}

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
        shared, names = await self._place(v) if "turn" in kinds else ([], [])
        if not semantic:
            shared = []
        # The SQL side and the vector side run at once: one waits on the database, the other on Chroma. Each
        # SQL phase is one call on one connection (storage.sql.reads), given back before the next phase: the
        # cold tier reads (rarely: it is cached) with a connection of its own, and with every pooled
        # connection held by a search waiting for a second one the pool would stand still until its timeout
        # (200 simultaneous conversations did exactly that).
        find = partial(self._lexical, v, tokens, names, frame, n, kinds, history)
        if semantic:
            (lexical_hits, windowed), nearest, _ = await asyncio.gather(
                self._reads.run(find),
                self._semantic(asker, shared, query, max(self.weights.semantic_candidates, k), kinds),
                self._prefetch_cold(v),
            )
        else:
            lexical_hits, windowed = await self._reads.run(find)
            nearest = None
        semantic_hits, cold = (await self._with_cold(asker, nearest, n, kinds)) if nearest else ([], {})
        evidence = collect(lexical_hits, semantic_hits, set(cold))
        for turn_id in windowed:
            # Said inside the window the query names: a candidate even when no word matched.
            evidence.setdefault(("turn", turn_id), Evidence())
        fused = fuse(evidence, self.weights, nearest is not None)
        when = fusion.asks_when(query)
        rank = partial(
            self._rank, v, fused, now, frame, frozenset(tokens), when, k, kinds, neighbours, history
        )
        ranked, around = await self._reads.run(rank)
        out = [Found(s, around.get(s.row.id, [])) if s.row.kind == "turn" else Found(s) for s in ranked]
        self._promote(asker, out, cold)
        return out

    def _lexical(
        self,
        v: Visibility,
        tokens: list[str],
        names: list[str],
        frame: Timeframe | None,
        n: int,
        kinds: Sequence[str],
        history: bool,
        conn: Connection,
    ) -> tuple[list[tuple[Key, float]], list[int]]:
        hits: list[tuple[Key, float]] = []
        if "turn" in kinds:
            # The names people speak under here are left out of the turns' query: said in greetings all the
            # time, they matched those rather than what was asked (docs/memory.md, sixth pass). Memories keep
            # them: a memory's name says whom it is about.
            found = lexical.search_turns(conn, self._dialect, v, without_names(tokens, names), n)
            hits += [(("turn", h.id), h.score) for h in found]
        if "memory" in kinds:
            found = lexical.search_memories(conn, self._dialect, v, tokens, n, history)
            hits += [(("memory", h.id), h.score) for h in found]
        windowed = (
            rows.turns_between(conn, v, frame.start, frame.end, n)
            if frame is not None and "turn" in kinds
            else []
        )
        return hits, windowed

    def _rank(
        self,
        v: Visibility,
        fused: dict[Key, dict[str, float]],
        now: datetime,
        frame: Timeframe | None,
        tokens: frozenset[str],
        when: bool,
        k: int,
        kinds: Sequence[str],
        neighbours: int,
        history: bool,
        conn: Connection,
    ) -> tuple[list[Scored], dict[int, list[rows.Row]]]:
        """Read the fused candidates, re-rank them and return the best ``k`` with the turns around them."""
        wanted_turns = [i for kind, i in fused if kind == "turn"]
        wanted_memories = [i for kind, i in fused if kind == "memory"]
        loaded = {("turn", i): r for i, r in rows.turns(conn, v, wanted_turns).items()}
        loaded.update({("memory", i): r for i, r in rows.memories(conn, v, wanted_memories, history).items()})
        ranked = rerank(fused, loaded, self.weights, now, frame, tokens)
        days = fusion.day_relevance(ranked, self.weights.session_top)
        replies: dict[int, float] = {}
        if "turn" in kinds:
            ranked, replies = self._spread(conn, v, ranked)
        ranked = fusion.settle(ranked, days, replies, self.weights, when)[:k]
        anchors = [s.row for s in ranked if s.row.kind == "turn"] if neighbours > 0 else []
        around = rows.neighbours(conn, v, anchors, neighbours, neighbours) if anchors else {}
        return ranked, around

    async def read(self, read: Callable[[Connection], T]) -> T:
        """Run a blocking read on recall's own connections (storage.sql.reads), one hop off the loop."""
        return await self._reads.run(read)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run a small blocking write on the same connections, committed (storage.sql.reads says why)."""
        return await self._reads.write(work)

    @property
    def sql_engine(self) -> Engine:
        """The engine recall's statements run on: on SQLite a blocking one of its own (storage.sql.reads)."""
        return self._reads.engine

    async def close(self) -> None:
        """Let searches in flight finish their reads, then close recall's own connections."""
        await self._reads.close()

    async def _place(self, v: Visibility) -> tuple[list[str], list[str]]:
        """Return the other recent speakers of the asker's channel (their user keys, whose vector partitions
        are searched) and the names people spoke under there lately, the asker's too; cached briefly, since
        every recall needs them. Outside a server channel: none."""
        if v.channel_scope_id is None:
            return [], []
        key = (v.channel_scope_id, v.user_id)
        cached = self._speaker_cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1], cached[2]
        scope_id = v.channel_scope_id

        def read(conn: Connection) -> tuple[list[str], list[str]]:
            speakers = rows.channel_speakers(conn, scope_id, exclude=v.user_id, limit=MAX_SHARED_SPEAKERS)
            return speakers, rows.channel_names(conn, scope_id, limit=MAX_CHANNEL_NAMES)

        speakers, names = await self._reads.run(read)
        if len(self._speaker_cache) >= SPEAKER_CACHE_ENTRIES:
            self._speaker_cache.clear()
        self._speaker_cache[key] = (time.monotonic() + SPEAKER_TTL_S, speakers, names)
        return speakers, names

    def _spread(
        self, conn: Connection, v: Visibility, ranked: list[Scored]
    ) -> tuple[list[Scored], dict[int, float]]:
        """Give the turns either side of the best turns a share of their score (a question and its answer
        are said next to each other, and often only one of them shares words with the query), and find the
        answers to the best turns that ask something (``fusion.asks``): turn id -> the asking turn's score.
        One read for both."""
        w = self.weights
        spreading = w.neighbour_sources if w.neighbour > 0 else 0
        # Answers are looked for even when their weight is 0, so that bench/locomo_blend.py can learn it.
        asking = w.reply_sources
        turns = [s for s in ranked if s.row.kind == "turn"]
        sources = turns[: max(spreading, asking)]
        if not sources:
            return ranked, {}
        radius = max(w.neighbour_radius if spreading else 0, 1 if asking else 0)
        around = rows.adjacent(conn, v, [s.row for s in sources], radius)
        best: dict[Key, Scored] = {(s.row.kind, s.row.id): s for s in ranked}
        for source in sources[:spreading]:
            for distance, row in around.get(source.row.id, []):
                share = w.neighbour**distance * source.score
                known = best.get(("turn", row.id))
                if known is not None and known.score >= share:
                    continue
                reasons = dict(known.reasons) if known else {}
                reasons.update(neighbour=share, score=share)
                best[("turn", row.id)] = Scored(row, share, reasons)
        replies: dict[int, float] = {}
        for source in sources[:asking]:
            if not fusion.asks(source.row.text):
                continue
            for distance, row in around.get(source.row.id, []):
                # The turn just after the question, by someone else: its answer.
                if distance == 1 and row.id > source.row.id and row.speaker != source.row.speaker:
                    replies[row.id] = max(replies.get(row.id, 0.0), source.score)
                    best.setdefault(("turn", row.id), Scored(row, 0.0, {"score": 0.0}))
        spread = sorted(best.values(), key=lambda s: (s.score, s.row.created_at), reverse=True)
        return spread, replies

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

    async def _prefetch_cold(self, v: Visibility) -> None:
        """Read the asker's cold set while the searches run, so scoring it later finds it cached.

        A person's first recall otherwise reads it after the vector search (2 ms at 1M memories). A failure
        here is left to the scoring step, which reads again and reports it where it matters.
        """
        try:
            await self._tiers.load_cold_set(v.user_id, list(v.realms), self._tiers.embedder.dimension)
        except Exception as exc:
            # The error's name only: its text may quote SQL.
            log.debug("prefetching the cold set failed: %s", type(exc).__name__)

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
