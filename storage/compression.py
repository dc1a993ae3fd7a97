"""Memory tiers and compression: the cold tier, decay, near-duplicate merging and session summaries.

Tiers: recent turns live in the cache window (hot); active memories and turns in the vector index (warm);
old ones in SQL with a 4-bit (or 8-bit) quantised vector (cold), where recall still scores them and from
where a recalled item is promoted back into the index. SQL stays the source of truth throughout:
compression never deletes a turn or a memory. It

- summarises the turns of closed, quiet sessions into episodic memories (``source_turn_ids`` keeps the
  provenance), through a summariser the caller passes in (the bot's LLM, or ``extractive_summary``),
  unless reflection already did when the session closed (both store the summary under one key);
- moves the vectors of old turns, and of memories whose importance has decayed (halved every
  ``half_life_days`` since the last recall, else since the memory was formed; an episode counts from the
  episode), out of the index into the cold tier (pinned memories never), then rebuilds the partitions that
  lost enough of their vectors, which is what gives the space back: a deleted vector keeps its slot in the
  index files otherwise;
- merges near-duplicate memories of one person in one realm, keeping the most important (then the most
  recent) text; the others are superseded by it and named in its ``meta["merged_from"]``.

Cold vectors are quantised per vector; a blob's first byte names its format, so rows written in an older
format keep decoding after the default changes (``CompressionSettings.cold_vector_bits`` picks the one new
rows are written in):

- format 1, 8-bit: symmetric, ``q = round(x / s)`` with ``s = max|x| / 127``, stored as the format byte, the
  float32 scale and one int8 per component: 261 bytes for a 256-d vector.
- formats 2 and 3, 4-bit: asymmetric, ``q = round((x - lo) / s)`` in 0..15 with ``lo = min x`` and
  ``s = (max x - lo) / 15``, stored as the format byte, float32 ``lo`` and ``s``, then two components per
  byte (the even-indexed one in the low nibble): 137 bytes for a 256-d vector. Format 3 marks an odd
  number of components (the last byte's high nibble is padding), so a blob alone says its dimension.
  Asymmetric beats symmetric here: the embeddings' two tails differ in length, and with 16 levels over the
  real range (rather than 15 over ``±max|x|``) the top 10 by the decoded vectors agreed with the exact top
  10 on 86% of LoCoMo questions against 79% (and 83% for a symmetric scale with the clipping point chosen
  for the least squared error).

A float32 vector costs 1 KiB and about 1.9 KB in embedded Chroma (measured with LoCoMo,
bench/compression.py). Each component's error is at most ``s / 2`` in either format; how much retrieval
the cold tier loses is measured by bench/compression.py.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import re
import struct
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np

from storage.config import CompressionSettings
from storage.embedding.base import Embedder, Vectors
from storage.records import MemoryRecord, TurnRecord, turn_record
from storage.scope import Scope
from storage.sql.models import Memory, Turn, utcnow
from storage.sql.tiers import SessionToSummarise
from storage.sql.uow import UnitOfWork
from storage.vectors.base import Partition, VectorIndex, VectorItem, VectorsUnavailable

log = logging.getLogger(__name__)

Summariser = Callable[[Sequence[TurnRecord]], Awaitable[str | None]]
AddMemory = Callable[..., Awaitable[MemoryRecord]]

# The first byte of a cold vector blob: its format (see the module docstring).
QUANT_FORMAT = 1  # 8-bit, symmetric
QUANT_FORMAT_4BIT = 2  # 4-bit, asymmetric, an even number of components
QUANT_FORMAT_4BIT_ODD = 3  # 4-bit, asymmetric, an odd number of components (the last nibble is padding)
DEFAULT_BITS = 4
# Another process's archiving shows up in this process's cached cold sets after this long at most.
COLD_CACHE_TTL_S = 60.0
# Recall promotes in the background; past this many promotions under way it stops adding more.
MAX_PENDING_PROMOTIONS = 16
_HEADER = struct.Struct("<Bf")  # 8-bit: format, scale
_HEADER4 = struct.Struct("<Bff")  # 4-bit: format, offset, step
META_KEY = "compression"
SECONDS_PER_DAY = 86_400.0
# The value stored with a session summary's key; reflection's episodic processor uses the same.
SUMMARY_VALUE = "summary"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


# ---------------------------------------------------------------------------------------------- quantising


def quantise(vector: Sequence[float] | np.ndarray, bits: int = DEFAULT_BITS) -> bytes:
    """Return a vector as a cold tier blob of ``bits`` (8 or 4) bits per component (formats: module doc)."""
    values = np.asarray(vector, dtype=np.float32).reshape(-1)
    if not np.isfinite(values).all():
        raise ValueError("cannot quantise a vector with NaN or infinite values")
    if bits == 8:
        peak = float(np.abs(values).max()) if values.size else 0.0
        scale = peak / 127.0 if peak > 0 else 1.0
        codes = np.clip(np.rint(values / scale), -127, 127).astype(np.int8)
        return _HEADER.pack(QUANT_FORMAT, scale) + codes.tobytes()
    if bits != 4:
        raise ValueError(f"cold vectors are quantised to 8 or 4 bits, not {bits}")
    low = float(values.min()) if values.size else 0.0
    high = float(values.max()) if values.size else 0.0
    step = (high - low) / 15.0 if high > low else 1.0
    nibbles = np.clip(np.rint((values - np.float32(low)) / np.float32(step)), 0, 15).astype(np.uint8)
    odd = values.size % 2
    if odd:
        nibbles = np.append(nibbles, np.uint8(0))
    packed = nibbles[0::2] | (nibbles[1::2] << 4)
    fmt = QUANT_FORMAT_4BIT_ODD if odd else QUANT_FORMAT_4BIT
    return _HEADER4.pack(fmt, low, step) + packed.astype(np.uint8).tobytes()


def dequantise(blob: bytes) -> np.ndarray:
    """Return the float32 vector a ``quantise`` blob (of any format) stands for."""
    fmt = blob[0] if blob else None
    if fmt == QUANT_FORMAT and len(blob) >= _HEADER.size:
        _, scale = _HEADER.unpack_from(blob)
        codes = np.frombuffer(blob, dtype=np.int8, offset=_HEADER.size)
        return codes.astype(np.float32) * np.float32(scale)
    if fmt in (QUANT_FORMAT_4BIT, QUANT_FORMAT_4BIT_ODD) and len(blob) >= _HEADER4.size:
        size = 2 * (len(blob) - _HEADER4.size) - (fmt == QUANT_FORMAT_4BIT_ODD)
        if size >= 0:
            return _decode4([blob], size)[0]
    raise ValueError("not a quantised vector of a known format")


def _blob_dimension(blob: bytes) -> int | None:
    """Return the number of components a blob holds, or None for an unknown format."""
    if not blob:
        return None
    if blob[0] == QUANT_FORMAT:
        return len(blob) - _HEADER.size if len(blob) >= _HEADER.size else None
    if blob[0] in (QUANT_FORMAT_4BIT, QUANT_FORMAT_4BIT_ODD) and len(blob) > _HEADER4.size:
        return 2 * (len(blob) - _HEADER4.size) - (blob[0] == QUANT_FORMAT_4BIT_ODD)
    return None


def _decode8(blobs: Sequence[bytes], dimension: int) -> np.ndarray:
    raw = b"".join(b[_HEADER.size :] for b in blobs)
    codes = np.frombuffer(raw, dtype=np.int8).reshape(len(blobs), dimension).astype(np.float32)
    scales = np.array([_HEADER.unpack_from(b)[1] for b in blobs], dtype=np.float32)
    return cast(np.ndarray, codes * scales[:, None])


def _decode4(blobs: Sequence[bytes], dimension: int) -> np.ndarray:
    width = (dimension + 1) // 2
    raw = np.frombuffer(b"".join(b[_HEADER4.size :] for b in blobs), dtype=np.uint8).reshape(
        len(blobs), width
    )
    codes = np.empty((len(blobs), 2 * width), dtype=np.float32)
    codes[:, 0::2] = raw & 0x0F
    codes[:, 1::2] = raw >> 4
    heads = np.array([_HEADER4.unpack_from(b)[1:] for b in blobs], dtype=np.float32).reshape(len(blobs), 2)
    return cast(np.ndarray, heads[:, :1] + codes[:, :dimension] * heads[:, 1:])


def dequantise_many(blobs: Sequence[bytes], dimension: int) -> tuple[np.ndarray, list[int]]:
    """Return the unit-length rows of the blobs of this dimension, and the indexes of the ones kept.

    Blobs of either format may be mixed; each format is decoded in one vectorised pass.
    """
    kept = [i for i, b in enumerate(blobs) if _blob_dimension(b) == dimension]
    if not kept:
        return np.zeros((0, dimension), dtype=np.float32), []
    out = np.empty((len(kept), dimension), dtype=np.float32)
    eight = [row for row, i in enumerate(kept) if blobs[i][0] == QUANT_FORMAT]
    four = [row for row, i in enumerate(kept) if blobs[i][0] != QUANT_FORMAT]
    if eight:
        out[eight] = _decode8([blobs[kept[row]] for row in eight], dimension)
    if four:
        out[four] = _decode4([blobs[kept[row]] for row in four], dimension)
    return _unit_rows(out), kept


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return cast(np.ndarray, matrix / np.where(norms > 0, norms, 1.0))


# ---------------------------------------------------------------------------------------------- policy


def decayed_importance(importance: float, age_days: float, half_life_days: float) -> float:
    """Return importance halved once per ``half_life_days`` of age."""
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    return importance * 0.5 ** (max(age_days, 0.0) / half_life_days)


def duplicate_groups(vectors: np.ndarray, priority: Sequence[int], threshold: float) -> list[list[int]]:
    """Group near-duplicate rows: each group is led by its highest-priority row, followed by the rest.

    ``priority`` lists row indexes best first. A row joins the group of the first leader it is at least
    ``threshold`` similar to (cosine), so a chain of loosely related rows is never merged into one.
    """
    if len(vectors) == 0:
        return []
    unit = _unit_rows(np.asarray(vectors, dtype=np.float32))
    taken = np.zeros(len(unit), dtype=bool)
    order = {row: rank for rank, row in enumerate(priority)}
    groups: list[list[int]] = []
    for leader in priority:
        if taken[leader]:
            continue
        taken[leader] = True
        similar = (unit @ unit[leader]) >= threshold
        members = [int(i) for i in np.flatnonzero(similar & ~taken)]
        members.sort(key=order.__getitem__)
        taken[members] = True
        if members:
            groups.append([leader, *members])
    return groups


def extractive_summary(turns: Sequence[TurnRecord], max_chars: int = 600) -> str:
    """Summarise a session without a language model: its most characteristic sentences, in order."""
    from storage.service import query_terms  # the service imports this module

    sentences: list[tuple[str, str, list[str]]] = []
    for turn in turns:
        who = turn.speaker or ("Kindred" if turn.role == "assistant" else "Someone")
        for part in _SENTENCE.split(turn.text.strip()):
            sentence = part.strip()
            if len(sentence.split()) >= 3:
                sentences.append((who, sentence, query_terms(sentence)))
    if not sentences:
        return ""
    # Words the session keeps coming back to mark what it was about; long sentences are not favoured.
    weights = Counter(w for _, _, words in sentences for w in set(words))

    def weight(i: int) -> float:
        words = sentences[i][2]
        return sum(weights[w] for w in set(words)) / math.sqrt(1 + len(words))

    scored = sorted(range(len(sentences)), key=weight, reverse=True)
    day = turns[0].created_at.strftime("%d %B %Y").lstrip("0")
    head = f"Conversation on {day}."
    chosen: list[int] = []
    used = len(head)
    for i in scored:
        cost = len(sentences[i][0]) + len(sentences[i][1]) + 3
        if used + cost > max_chars and chosen:
            continue
        chosen.append(i)
        used += cost
        if used >= max_chars:
            break
    body = " ".join(f"{sentences[i][0]}: {sentences[i][1]}" for i in sorted(chosen))
    return f"{head} {body}"[:max_chars]


def session_key(conversation_id: int) -> str:
    """Return the key under which a session's episodic summary is stored (shared with reflection)."""
    return f"session:{conversation_id}"


def turn_text(speaker: str | None, text: str) -> str:
    """Return the text a turn is embedded as (who said it matters for recall)."""
    return f'{speaker} said, "{text}"' if speaker else text


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ColdHit:
    """A cold item that recall scored: its kind, id, cosine similarity and decoded vector."""

    kind: str
    id: int
    similarity: float
    vector: np.ndarray


@dataclass(slots=True)
class CompressionReport:
    """What one compression run did (counts only: never any text)."""

    sessions_summarised: int = 0
    summaries: int = 0
    summaries_failed: int = 0
    turns_archived: int = 0
    memories_archived: int = 0
    memories_merged: int = 0
    partitions_compacted: int = 0
    vectors_repaired: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain data for logs and job status."""
        return {
            "sessions_summarised": self.sessions_summarised,
            "summaries": self.summaries,
            "summaries_failed": self.summaries_failed,
            "turns_archived": self.turns_archived,
            "memories_archived": self.memories_archived,
            "memories_merged": self.memories_merged,
            "partitions_compacted": self.partitions_compacted,
            "vectors_repaired": self.vectors_repaired,
            "seconds": round(self.seconds, 3),
            "errors": list(self.errors),
        }


# ---------------------------------------------------------------------------------------------- the tiers


class ColdCache:
    """Decoded cold vectors per (person, realms), so recall does not read and decode them on every query.

    Bounded in bytes, least recently used first out. Local changes update or drop entries at once; changes
    made by another process are seen after ``ttl_s`` at most (a just-archived item can be missed for that
    long, never leaked: every hit is re-read from SQL with the owner filter).
    """

    def __init__(
        self, max_bytes: int, ttl_s: float = COLD_CACHE_TTL_S, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[tuple[int, tuple[str, ...]], _ColdSet] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[int, tuple[str, ...]]) -> _ColdSet | None:
        """Return a fresh entry, or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() - entry.loaded_at > self.ttl_s:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[int, tuple[str, ...]], entry: _ColdSet) -> None:
        """Store an entry, evicting the least recently used ones beyond the byte bound."""
        self._drop(key)
        if entry.nbytes > self.max_bytes:
            return
        self._entries[key] = entry
        self._bytes += entry.nbytes
        while self._bytes > self.max_bytes and self._entries:
            self._drop(next(iter(self._entries)))

    def forget_user(self, user_id: int) -> None:
        """Drop every entry of one person (their cold set changed)."""
        for key in [k for k in self._entries if k[0] == user_id]:
            self._drop(key)

    def mark_warm(self, user_id: int, keys: set[tuple[str, int]]) -> None:
        """Leave promoted items out of this person's cached cold sets."""
        for key, entry in self._entries.items():
            if key[0] == user_id:
                for index, item in enumerate(entry.keys):
                    if item in keys:
                        entry.alive[index] = False

    def shrink(self, fraction: float) -> int:
        """Drop the least recently used ``fraction`` of the entries; return how many went."""
        if not 0 < fraction <= 1:
            raise ValueError("fraction must be in (0, 1]")
        doomed = list(self._entries)[: math.ceil(len(self._entries) * fraction)]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    def clear(self) -> int:
        """Drop every entry; return how many went."""
        count = len(self._entries)
        self._entries.clear()
        self._bytes = 0
        return count

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Return the bytes held by the cached vectors."""
        return self._bytes

    def _drop(self, key: tuple[int, tuple[str, ...]]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.nbytes


@dataclass(slots=True)
class _ColdSet:
    keys: list[tuple[str, int]]
    matrix: np.ndarray
    is_memory: np.ndarray
    alive: np.ndarray
    loaded_at: float

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes + self.alive.nbytes + self.is_memory.nbytes) + 64 * len(self.keys)


class MemoryTiers:
    """The cold tier and compression over SQL and the vector index (``StorageService.tiers``)."""

    def __init__(
        self,
        sessions: Any,
        vectors: VectorIndex,
        embedder: Embedder,
        space: str,
        settings: CompressionSettings,
        add_memory: AddMemory,
        *,
        on_vectors_failed: Callable[[Exception], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self.vectors = vectors
        self.embedder = embedder
        self.space = space
        self.settings = settings
        self._add_memory = add_memory
        self._on_vectors_failed = on_vectors_failed
        self.cache = ColdCache(settings.cold_cache_mb * 1024 * 1024)
        self._pending: set[asyncio.Task[None]] = set()

    def configured(self, settings: CompressionSettings) -> MemoryTiers:
        """Return these tiers run with other settings (sharing the cold cache and promotions)."""
        clone = copy.copy(self)
        clone.settings = settings
        return clone

    # ------------------------------------------------------------ recall

    async def cold_hits(
        self, user_id: int, realms: Sequence[str], query: Vectors | np.ndarray, k: int, kinds: Sequence[str]
    ) -> list[ColdHit]:
        """Score this person's cold items in these realms against a unit query vector; return the top k."""
        if k <= 0 or not ("turn" in kinds or "memory" in kinds):
            return []
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        cold = await self._cold_set(user_id, realms, q.shape[0])
        if not cold.keys:
            return []
        wanted = cold.alive.copy()
        if "memory" not in kinds:
            wanted &= ~cold.is_memory
        if "turn" not in kinds:
            wanted &= cold.is_memory
        rows = np.flatnonzero(wanted)
        if len(rows) == 0:
            return []
        scores = cold.matrix[rows] @ q
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            ColdHit(cold.keys[rows[j]][0], cold.keys[rows[j]][1], float(scores[j]), cold.matrix[rows[j]])
            for j in order.tolist()
        ]

    async def load_cold_set(self, user_id: int, realms: Sequence[str], dimension: int) -> None:
        """Read this person's cold set into the cache now, if it is not there (recall prefetches it)."""
        await self._cold_set(user_id, realms, dimension)

    async def _cold_set(self, user_id: int, realms: Sequence[str], dimension: int) -> _ColdSet:
        key = (user_id, tuple(sorted(realms)))
        cached = self.cache.get(key)
        if cached is not None and cached.matrix.shape[1] == dimension:
            return cached
        async with UnitOfWork(self._sessions) as uow:
            rows = [("turn", i, b) for i, b in await uow.tiers.cold_turns(user_id, realms)]
            rows += [("memory", i, b) for i, b in await uow.tiers.cold_memories(user_id, realms)]
        matrix, kept = dequantise_many([b for _, _, b in rows], dimension)
        keys = [(rows[i][0], rows[i][1]) for i in kept]
        entry = _ColdSet(
            keys,
            matrix,
            np.array([kind == "memory" for kind, _ in keys], dtype=bool),
            np.ones(len(keys), dtype=bool),
            time.monotonic(),
        )
        self.cache.put(key, entry)
        return entry

    def promote_soon(
        self, user_id: int, user_key: str, hits: Sequence[tuple[ColdHit, str, datetime]]
    ) -> bool:
        """Promote recalled cold items in the background (an index write is slow; the reply is not kept
        waiting); return False when too many promotions are already under way (a later recall retries).
        """
        if not hits or len(self._pending) >= MAX_PENDING_PROMOTIONS:
            return False
        task = asyncio.get_running_loop().create_task(self._promote_quietly(user_id, user_key, list(hits)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return True

    async def settle(self) -> None:
        """Wait for the background promotions under way."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _promote_quietly(
        self, user_id: int, user_key: str, hits: list[tuple[ColdHit, str, datetime]]
    ) -> None:
        try:
            await self.promote(user_id, user_key, hits)
        except VectorsUnavailable as exc:
            if self._on_vectors_failed is not None:
                self._on_vectors_failed(exc)  # still recalled from the cold tier; promoted on a later recall
        except Exception:
            log.warning("promoting %s recalled items failed", len(hits), exc_info=True)

    async def promote(
        self, user_id: int, user_key: str, hits: Sequence[tuple[ColdHit, str, datetime]]
    ) -> int:
        """Write recalled cold items back into the index and clear their cold vectors; return how many."""
        if not hits:
            return 0
        partitions: dict[Partition, list[VectorItem]] = defaultdict(list)
        for hit, realm, created_at in hits:
            prefix = "m" if hit.kind == "memory" else "t"
            partitions[Partition(user_key, realm)].append(
                VectorItem(
                    f"{prefix}{hit.id}",
                    cast(Sequence[float], hit.vector),
                    {"kind": hit.kind, "at": created_at.timestamp()},
                )
            )
        # Index first, then SQL: a crash in between leaves an item in both tiers, and recall de-duplicates.
        for partition, items in partitions.items():
            await self.vectors.upsert(self.space, partition, items)
        self.cache.mark_warm(user_id, {(h.kind, h.id) for h, _, _ in hits})
        now = utcnow()
        async with UnitOfWork(self._sessions) as uow:
            await uow.tiers.warm(Turn, user_id, [h.id for h, _, _ in hits if h.kind == "turn"], now)
            await uow.tiers.warm(Memory, user_id, [h.id for h, _, _ in hits if h.kind == "memory"], now)
            await uow.commit()
        return len(hits)

    # ------------------------------------------------------------ the whole run

    async def compress(
        self,
        summariser: Summariser | None,
        *,
        now: datetime | None = None,
        report: CompressionReport | None = None,
    ) -> CompressionReport:
        """Summarise quiet sessions, merge near-duplicates, archive cold items and compact the index."""
        started = time.perf_counter()
        now = now or utcnow()
        report = report if report is not None else CompressionReport()
        try:
            if summariser is not None:
                await self.summarise_sessions(summariser, now=now, report=report)
            await self.merge_duplicates(now=now, report=report)
            await self.archive_cold(now=now, report=report)
        finally:
            report.seconds = time.perf_counter() - started
        return report

    # ------------------------------------------------------------ summaries

    async def summarise_sessions(
        self,
        summariser: Summariser,
        *,
        now: datetime | None = None,
        report: CompressionReport | None = None,
        limit: int | None = None,
    ) -> CompressionReport:
        """Summarise closed sessions quiet for ``summarise_after_days`` into episodic memories.

        At most ``limit`` sessions (default ``summaries_per_run``), oldest first, so that a backlog is worked
        off over several runs rather than in one burst of model calls.
        """
        now = now or utcnow()
        report = report if report is not None else CompressionReport()
        cutoff = now - timedelta(days=self.settings.summarise_after_days)
        limit = self.settings.summaries_per_run if limit is None else limit
        done = after = 0
        while done < limit:
            batch = min(limit - done, self.settings.batch_size)
            async with UnitOfWork(self._sessions) as uow:
                sessions = await uow.tiers.sessions_to_summarise(cutoff, after, batch)
            for session in sessions:
                await self._summarise_one(session, summariser, now, report)
            done += len(sessions)
            if len(sessions) < batch:
                break
            after = sessions[-1].conversation_id
        return report

    async def _summarise_one(
        self, session: SessionToSummarise, summariser: Summariser, now: datetime, report: CompressionReport
    ) -> None:
        conversation_id, owner = session.conversation_id, session.owner
        # Claimed before the (slow) summariser runs, so two processes never summarise one session twice.
        async with UnitOfWork(self._sessions) as uow:
            claimed = await uow.tiers.mark_summarised(conversation_id, now)
            await uow.commit()
            if not claimed:
                return
            # Reflection summarises a session when it closes, under this key; then there is nothing to do.
            done = await uow.memories.with_key(
                owner.user_id, session.realm, "episodic", session_key(conversation_id)
            )
            rows = [] if done else await uow.tiers.session_turns(conversation_id, owner.user_id)
        scope = Scope(owner.external_id, owner.guild_id or None, owner.channel_id or None, owner.platform)
        turns = [turn_record(row, scope) for row in rows if row.text.strip()]
        if not any(t.role == "user" for t in turns):
            report.sessions_summarised += 1
            return
        step = self.settings.summary_max_turns
        made = 0
        try:
            for part, start in enumerate(range(0, len(turns), step)):
                chunk = turns[start : start + step]
                text = (await summariser(chunk) or "").strip()
                if not text:
                    continue
                # The same key as reflection's summary: whichever comes second finds it and stores nothing.
                key = session_key(conversation_id) if part == 0 else f"{session_key(conversation_id)}:{part}"
                await self._add_memory(
                    scope,
                    text,
                    kind="episodic",
                    importance=self.settings.summary_importance,
                    source_turn_ids=[t.id for t in chunk],
                    valid_from=chunk[0].created_at,
                    key=key,
                    value=SUMMARY_VALUE,
                    meta={
                        "until": chunk[-1].created_at.isoformat(),
                        "conversation_id": conversation_id,
                        "turns": len(chunk),
                        "method": "compression",
                    },
                )
                made += 1
        except Exception as exc:
            # Handed back for the next run, unless part of it was already stored (then it stays done).
            report.summaries_failed += 1
            report.errors.append(f"summary of session {conversation_id}: {type(exc).__name__}")
            log.warning("summarising session %s failed: %s", conversation_id, type(exc).__name__)
            if made == 0:
                async with UnitOfWork(self._sessions) as uow:
                    await uow.tiers.unmark_summarised(conversation_id)
                    await uow.commit()
                return
        report.sessions_summarised += 1
        report.summaries += made

    # ------------------------------------------------------------ merging

    async def merge_duplicates(
        self, *, now: datetime | None = None, report: CompressionReport | None = None
    ) -> CompressionReport:
        """Merge near-duplicate memories of everyone with memories added since the last pass."""
        now = now or utcnow()
        report = report if report is not None else CompressionReport()
        async with UnitOfWork(self._sessions) as uow:
            state = await uow.meta.get(META_KEY) or {}
            groups, top = await uow.tiers.memory_groups_since(int(state.get("merged_through", 0)))
        for user_id, realm, user_key in groups:
            report.memories_merged += await self.merge_partition(user_id, realm, user_key, now=now)
        if groups:
            async with UnitOfWork(self._sessions) as uow:
                state = await uow.meta.get(META_KEY) or {}
                await uow.meta.put(META_KEY, {**state, "merged_through": top})
                await uow.commit()
        return report

    async def merge_partition(self, user_id: int, realm: str, user_key: str, *, now: datetime) -> int:
        """Merge near-duplicate memories of one person in one realm; return how many were merged away."""
        async with UnitOfWork(self._sessions) as uow:
            memories = await uow.tiers.mergeable(user_id, realm)
        if len(memories) < 2:
            return 0
        vectors = await self._memory_vectors(user_key, realm, memories)
        kinds: dict[tuple[str, str | None], list[int]] = defaultdict(list)
        for index, memory in enumerate(memories):
            kinds[(memory.kind, memory.speaker)].append(index)
        plans: list[tuple[int, list[int]]] = []
        for indexes in kinds.values():
            if len(indexes) < 2:
                continue
            subset = [memories[i] for i in indexes]
            priority = sorted(
                range(len(subset)),
                key=lambda j: (subset[j].pinned, subset[j].importance, subset[j].created_at, subset[j].id),
                reverse=True,
            )
            for group in duplicate_groups(vectors[indexes], priority, self.settings.duplicate_threshold):
                head = memories[indexes[group[0]]].id
                # A pinned memory is never merged away; it may still absorb others.
                absorbed = [memories[indexes[j]].id for j in group[1:] if not memories[indexes[j]].pinned]
                if absorbed:
                    plans.append((head, absorbed))
        if not plans:
            return 0
        gone: list[str] = []
        async with UnitOfWork(self._sessions) as uow:
            rows = {
                m.id: m
                for m in await uow.memories.by_ids(
                    user_id, [realm], [i for p in plans for i in (p[0], *p[1])]
                )
            }
            for leader_id, absorbed_ids in plans:
                leader = rows.get(leader_id)
                losers = [rows[i] for i in absorbed_ids if i in rows and rows[i].valid_to is None]
                if leader is None or leader.valid_to is not None or not losers:
                    continue
                merged_from = set(int(i) for i in (leader.meta or {}).get("merged_from", []))
                sources = set(int(i) for i in leader.source_turn_ids or [])
                for loser in losers:
                    merged_from.add(loser.id)
                    merged_from.update(int(i) for i in (loser.meta or {}).get("merged_from", []))
                    sources.update(int(i) for i in loser.source_turn_ids or [])
                    loser.valid_to = now
                    loser.superseded_by = leader.id
                    loser.cold_vector = None
                    loser.meta = {**(loser.meta or {}), "merged_into": leader.id}
                leader.meta = {**(leader.meta or {}), "merged_from": sorted(merged_from)}
                leader.source_turn_ids = sorted(sources)
                leader.importance = max([leader.importance, *(m.importance for m in losers)])
                gone += [f"m{m.id}" for m in losers]
            await uow.commit()
        self.cache.forget_user(user_id)
        await self.vectors.delete(self.space, Partition(user_key, realm), gone)
        return len(gone)

    async def _memory_vectors(self, user_key: str, realm: str, memories: Sequence[Memory]) -> np.ndarray:
        """Return one unit vector per memory: decoded from the cold tier, read from the index, or embedded."""
        dim = self.embedder.dimension
        out = np.zeros((len(memories), dim), dtype=np.float32)
        missing: list[int] = []
        hot: dict[str, int] = {}
        for index, memory in enumerate(memories):
            if memory.cold_vector is not None:
                rows, kept = dequantise_many([bytes(memory.cold_vector)], dim)
                if kept:
                    out[index] = rows[0]
                    continue
            hot[f"m{memory.id}"] = index
        if hot:
            stored = await self.vectors.get(self.space, Partition(user_key, realm), list(hot))
            for item_id, row in zip(stored.ids, stored.vectors, strict=True):
                out[hot.pop(item_id)] = row
        missing = list(hot.values())
        if missing:
            out[missing] = await self._embed([memories[i].text for i in missing])
        return _unit_rows(out)

    # ------------------------------------------------------------ archiving

    async def archive_cold(
        self, *, now: datetime | None = None, report: CompressionReport | None = None
    ) -> CompressionReport:
        """Move old turns and decayed memories out of the index into the cold tier, then compact."""
        now = now or utcnow()
        report = report if report is not None else CompressionReport()
        removed: Counter[Partition] = Counter()
        report.turns_archived += await self._archive_turns(now, removed)
        report.memories_archived += await self._archive_memories(now, removed)
        for partition, count in sorted(removed.items(), key=lambda kv: (kv[0].user_key, kv[0].realm)):
            if await self._compact_if_worth_it(partition, count, report):
                report.partitions_compacted += 1
        return report

    async def _archive_turns(self, now: datetime, removed: Counter[Partition]) -> int:
        cutoff = now - timedelta(days=self.settings.turn_cold_after_days)
        after = total = 0
        while True:
            async with UnitOfWork(self._sessions) as uow:
                batch = await uow.tiers.old_hot_turns(cutoff, after, self.settings.batch_size)
            if not batch:
                return total
            after = batch[-1].id
            grouped: dict[Partition, list[tuple[int, str]]] = defaultdict(list)
            owners: dict[Partition, int] = {}
            for turn in batch:
                partition = Partition(turn.user_key, turn.realm)
                grouped[partition].append((turn.id, turn_text(turn.speaker, turn.text)))
                owners[partition] = turn.user_id
            for partition, items in grouped.items():
                await self._move_cold(Turn, "t", partition, items, owners[partition])
                removed[partition] += len(items)
                total += len(items)
            if len(batch) < self.settings.batch_size:
                return total

    async def _archive_memories(self, now: datetime, removed: Counter[Partition]) -> int:
        cutoff = now - timedelta(days=self.settings.min_age_days)
        after = total = 0
        while True:
            async with UnitOfWork(self._sessions) as uow:
                batch = await uow.tiers.old_hot_memories(cutoff, after, self.settings.batch_size)
            if not batch:
                return total
            after = batch[-1].id
            grouped: dict[Partition, list[tuple[int, str]]] = defaultdict(list)
            owners: dict[Partition, int] = {}
            for memory in batch:
                age_days = (now - memory.decays_from).total_seconds() / SECONDS_PER_DAY
                left = decayed_importance(memory.importance, age_days, self.settings.half_life_days)
                if left < self.settings.archive_below_importance:
                    partition = Partition(memory.user_key, memory.realm)
                    grouped[partition].append((memory.id, memory.text))
                    owners[partition] = memory.user_id
            for partition, items in grouped.items():
                await self._move_cold(Memory, "m", partition, items, owners[partition])
                removed[partition] += len(items)
                total += len(items)
            if len(batch) < self.settings.batch_size:
                return total

    async def _move_cold(
        self, model: Any, prefix: str, partition: Partition, items: Sequence[tuple[int, str]], user_id: int
    ) -> None:
        """Quantise items' vectors into SQL, then remove them from the index (in that order)."""
        keys = {f"{prefix}{i}": i for i, _ in items}
        bits = self.settings.cold_vector_bits
        stored = await self.vectors.get(self.space, partition, list(keys))
        blobs = {keys[k]: quantise(row, bits) for k, row in zip(stored.ids, stored.vectors, strict=True)}
        # Not in the index (never indexed, or indexed into a failed tier): embed them now.
        missing = [(i, text) for i, text in items if i not in blobs]
        if missing:
            for (i, _), row in zip(missing, await self._embed([t for _, t in missing]), strict=True):
                blobs[i] = quantise(row, bits)
        # SQL first: a crash before the delete leaves the item in both tiers, never in neither.
        async with UnitOfWork(self._sessions) as uow:
            await uow.tiers.set_cold(model, blobs)
            await uow.commit()
        self.cache.forget_user(user_id)
        await self.vectors.delete(self.space, partition, list(keys))

    # ------------------------------------------------------------ compaction

    async def _compact_if_worth_it(
        self, partition: Partition, removed: int, report: CompressionReport
    ) -> bool:
        if not getattr(self.vectors, "reclaims_space", False):
            # A Chroma server keeps a dropped collection's files (chroma-core/chroma#5259): rebuilding there
            # would cost space, while deleted slots are at least reused by later inserts.
            return False
        async with UnitOfWork(self._sessions) as uow:
            user_id = await uow.tiers.user_id_of(partition.user_key)
            if user_id is None:
                return False
            turn_ids, memory_ids = await uow.tiers.hot_ids(user_id, partition.realm)
        remaining = len(turn_ids) + len(memory_ids)
        if removed / max(removed + remaining, 1) < self.settings.compact_min_fraction:
            return False
        report.vectors_repaired += await self.compact_partition(partition, user_id)
        return True

    async def compact_partition(self, partition: Partition, user_id: int) -> int:
        """Rebuild a partition's collection with exactly the items SQL holds hot; return the number embedded.

        Deleted vectors keep their slots in the index files until the collection is rebuilt. Items that should
        be in the index but are not (an index job that failed, or one that raced this rebuild) are embedded
        again; items that should not (deleted or cold) are left out.
        """
        snapshot = await self.vectors.get(self.space, partition)
        async with UnitOfWork(self._sessions) as uow:
            turn_ids, memory_ids = await uow.tiers.hot_ids(user_id, partition.realm)
            wanted = {f"t{i}" for i in turn_ids} | {f"m{i}" for i in memory_ids}
            have = {item_id for item_id in snapshot.ids if item_id in wanted}
            missing_turns = [i for i in turn_ids if f"t{i}" not in have]
            missing_memories = [i for i in memory_ids if f"m{i}" not in have]
            turns = await uow.conversations.turns_by_ids(user_id, [partition.realm], missing_turns)
            memories = await uow.memories.by_ids(user_id, [partition.realm], missing_memories)
        items = [
            VectorItem(item_id, cast(Sequence[float], row), meta)
            for item_id, row, meta in zip(snapshot.ids, snapshot.vectors, snapshot.metadatas, strict=True)
            if item_id in have
        ]
        texts = [turn_text(t.speaker, t.text) for t in turns] + [m.text for m in memories]
        if texts:
            fresh = await self._embed(texts)
            labels: list[tuple[str, str, datetime]] = [(f"t{t.id}", "turn", t.created_at) for t in turns]
            labels += [(f"m{m.id}", "memory", m.created_at) for m in memories]
            for (item_id, kind, at), row in zip(labels, fresh, strict=True):
                items.append(
                    VectorItem(item_id, cast(Sequence[float], row), {"kind": kind, "at": at.timestamp()})
                )
        await self.vectors.drop_partition(self.space, partition)
        await self.vectors.upsert(self.space, partition, items)
        log.debug("compacted a vector partition: %s kept, %s re-embedded", len(have), len(texts))
        return len(texts)

    # ------------------------------------------------------------ helpers

    async def _embed(self, texts: Sequence[str]) -> np.ndarray:
        step = max(1, self.settings.batch_size)
        parts = [await self.embedder.embed(list(texts[i : i + step])) for i in range(0, len(texts), step)]
        if not parts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)
