"""StorageService: the only door to data, over the cache, SQL and vector tiers.

SQL is the source of truth. The cache mirrors recent windows and may vanish; the vector index is derived
from SQL and can be rebuilt with ``reindex``. When the cache or the vector tier fails, the service keeps
working on what is left and says so in ``health()``.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.cache import Cache, make_cache
from storage.cache.base import RateDecision
from storage.config import StorageSettings
from storage.embedding import make_embedder
from storage.embedding.base import Embedder, EmbeddingError, space_id
from storage.health import Status, TierHealth
from storage.records import MemoryRecord, Recalled, ReindexReport, TurnRecord
from storage.scope import Scope
from storage.sql import migrate
from storage.sql.engine import SQLUnavailable, backend_name, make_engine, ping, redacted, wait_until_ready
from storage.sql.models import Memory, Turn, utcnow
from storage.sql.uow import UnitOfWork
from storage.vectors import make_vector_index
from storage.vectors.base import Partition, VectorIndex, VectorItem, VectorsUnavailable

log = logging.getLogger(__name__)

SPACE_KEY = "embedding_space"
WINDOW_PREFIX = "win:"
# Conversations are touched at most this often; idle detection works in minutes, not milliseconds.
TOUCH_EVERY_S = 60.0
_WORD = re.compile(r"[\w']+", re.UNICODE)
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


class SchemaOutdated(Exception):
    """The database schema is older than this version of Kindred and auto-migration is off."""


@dataclass(slots=True)
class _Ids:
    user_id: int
    scope_id: int


class StorageService:
    """Turns, memories, recall, rate limits and locks, scoped to a person and a place."""

    def __init__(
        self,
        settings: StorageSettings,
        engine: AsyncEngine,
        cache: Cache,
        vectors: VectorIndex,
        embedder: Embedder,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.cache = cache
        self.vectors = vectors
        self.embedder = embedder
        self.space = space_id(embedder.model_id, embedder.dimension)
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, class_=AsyncSession)
        self._ids: OrderedDict[tuple[str, str, str | None, str | None], _Ids] = OrderedDict()
        self._conversations: dict[tuple[int, int], tuple[int, float]] = {}
        self._vectors_error: str | None = None
        self._space_note: str | None = None

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(
        cls,
        settings: StorageSettings,
        *,
        embedder: Embedder | None = None,
        cache: Cache | None = None,
        vectors: VectorIndex | None = None,
        migrate_schema: bool | None = None,
        require_schema: bool = True,
    ) -> StorageService:
        """Connect every tier, migrate (when configured) and check the embedding space.

        ``require_schema=False`` opens an outdated database anyway, for ``doctor`` to report on.
        """
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.sql_url()
        engine = make_engine(url, settings.sql)
        try:
            await wait_until_ready(engine, settings.sql.connect_retries, settings.sql.connect_retry_delay_s)
            if settings.sql.auto_migrate if migrate_schema is None else migrate_schema:
                await migrate.upgrade(engine)
            elif require_schema:
                await _require_current_schema(engine)
        except BaseException:
            await engine.dispose()
            raise
        service = cls(
            settings,
            engine,
            cache or make_cache(settings.cache, stale_prefixes=(WINDOW_PREFIX,)),
            vectors or make_vector_index(settings.vectors, settings.chroma_path()),
            embedder or make_embedder(settings.embedding),
        )
        await service._check_space()
        return service

    async def close(self) -> None:
        """Close every tier's connections."""
        for closer in (self.cache.close, self.vectors.close):
            try:
                await closer()
            except Exception:  # a failing tier must not stop the others from closing
                log.exception("error while closing a storage tier")
        await self.engine.dispose()

    async def _check_space(self) -> None:
        if await self.schema_revision() is None:
            return  # nothing to compare with before the schema exists
        async with UnitOfWork(self._sessions) as uow:
            recorded = await uow.meta.get(SPACE_KEY)
            if recorded is None:
                await uow.meta.put(SPACE_KEY, self._space_record())
                await uow.commit()
                return
        if recorded.get("space") != self.space:
            self._space_note = (
                f"embedding model changed from {recorded.get('model_id')} ({recorded.get('dimension')}-d) to "
                f"{self.embedder.model_id} ({self.embedder.dimension}-d): run `kindred reindex`; until then "
                "recall uses SQL only"
            )
            log.warning("%s", self._space_note)

    def _space_record(self) -> dict[str, Any]:
        return {"space": self.space, "model_id": self.embedder.model_id, "dimension": self.embedder.dimension}

    # ------------------------------------------------------------------ scope resolution

    async def _resolve(self, uow: UnitOfWork, scope: Scope, display_name: str | None = None) -> _Ids:
        key = (scope.platform, scope.user_id, scope.guild_id, scope.channel_id)
        found = self._ids.get(key)
        if found is not None:
            self._ids.move_to_end(key)
            return found
        user_id = await uow.people.ensure_user(scope.platform, scope.user_id, display_name)
        scope_id = await uow.people.ensure_scope(scope.platform, scope.guild_id, scope.channel_id)
        ids = _Ids(user_id, scope_id)
        self._ids[key] = ids
        if len(self._ids) > self.settings.cache.max_entries:
            self._ids.popitem(last=False)
        return ids

    async def _readable_realms(self, uow: UnitOfWork, scope: Scope, user_id: int) -> list[str]:
        # Memories stay in their realm unless the person opted in to recall across servers and DMs.
        settings = await uow.people.user_settings(user_id)
        if settings.get("cross_realm_recall"):
            return sorted({scope.realm, *await uow.people.realms_of(user_id)})
        return [scope.realm]

    # ------------------------------------------------------------------ turns

    async def record_turn(
        self,
        scope: Scope,
        role: str,
        text: str,
        *,
        speaker: str | None = None,
        message_id: str | None = None,
        created_at: datetime | None = None,
        meta: dict[str, Any] | None = None,
    ) -> TurnRecord:
        """Make a turn durable in SQL, then mirror it into the cache window.

        A platform message id makes this idempotent: the same message recorded twice returns the first record.
        """
        if role not in ("user", "assistant"):
            raise ValueError(f"role must be 'user' or 'assistant', not {role!r}")
        when = created_at or utcnow()
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope, speaker if role == "user" else None)
            if message_id is not None:
                existing = await uow.conversations.turn_by_message(ids.user_id, message_id, role)
                if existing is not None:
                    return _turn_record(existing, scope)
            conversation_id = await self._conversation(uow, ids, scope, when)
            row = Turn(
                conversation_id=conversation_id,
                user_id=ids.user_id,
                scope_id=ids.scope_id,
                realm=scope.realm,
                role=role,
                speaker=speaker,
                text=text,
                message_id=message_id,
                created_at=when,
                meta=meta or {},
            )
            try:
                await uow.conversations.add_turn(row)
                await uow.commit()
            except IntegrityError:
                # Another task recorded the same message between our check and our insert.
                await uow.session.rollback()
                assert message_id is not None
                existing = await uow.conversations.turn_by_message(ids.user_id, message_id, role)
                if existing is None:
                    raise
                return _turn_record(existing, scope)
        record = _turn_record(row, scope)
        await self._mirror(scope, record)
        return record

    async def _conversation(self, uow: UnitOfWork, ids: _Ids, scope: Scope, when: datetime) -> int:
        key = (ids.user_id, ids.scope_id)
        cached = self._conversations.get(key)
        now = time.monotonic()
        if cached is not None:
            conversation_id, touched = cached
            if now - touched > TOUCH_EVERY_S:
                await uow.conversations.touch(conversation_id, when)
                self._conversations[key] = (conversation_id, now)
            return conversation_id
        conversation_id = await uow.conversations.open_conversation(
            ids.user_id, ids.scope_id, scope.realm, when
        )
        await uow.conversations.touch(conversation_id, when)
        self._conversations[key] = (conversation_id, now)
        return conversation_id

    async def _mirror(self, scope: Scope, record: TurnRecord) -> None:
        # Only extend a window that is already cached: a window started from one turn would hide the turns
        # before it. An absent window is loaded from SQL on the next read.
        await self.cache.push_window(
            _window_key(scope),
            record.to_json(),
            self.settings.cache.recent_window,
            self.settings.cache.default_ttl_s,
            create=False,
        )

    async def recent_turns(self, scope: Scope, limit: int | None = None) -> list[TurnRecord]:
        """Return the newest turns of the person's open session in this place, oldest first."""
        limit = min(limit or self.settings.cache.recent_window, self.settings.cache.recent_window)
        key = _window_key(scope)
        cached = await self.cache.read_window(key, limit)
        if cached is not None:
            return [TurnRecord.from_json(item) for item in cached]
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            conversation_id = await uow.conversations.open_conversation(
                ids.user_id, ids.scope_id, scope.realm, utcnow()
            )
            await uow.commit()
            rows = await uow.conversations.recent_turns(
                conversation_id, ids.user_id, self.settings.cache.recent_window
            )
        records = [_turn_record(row, scope) for row in rows]
        await self.cache.fill_window(
            key,
            [r.to_json() for r in records],
            self.settings.cache.recent_window,
            self.settings.cache.default_ttl_s,
        )
        return records[-limit:]

    async def end_session(self, scope: Scope) -> int:
        """Close the person's open session here (memories stay); return how many sessions were closed."""
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            closed = await uow.conversations.close_open(ids.user_id, ids.scope_id, utcnow())
            await uow.commit()
        self._conversations.pop((ids.user_id, ids.scope_id), None)
        await self.cache.delete(_window_key(scope))
        return closed

    async def index_turns(self, scope: Scope, turns: Sequence[TurnRecord]) -> int:
        """Embed turns and add them to the person's vector partition; return how many were indexed."""
        items = [t for t in turns if t.text.strip()]
        if not items:
            return 0
        vectors = await self.embedder.embed([_turn_text(t.speaker, t.text) for t in items])
        await self._upsert(
            Partition(scope.user_key, scope.realm),
            [
                VectorItem(f"t{t.id}", vec.tolist(), {"kind": "turn", "at": t.created_at.timestamp()})
                for t, vec in zip(items, vectors, strict=True)
            ],
        )
        return len(items)

    # ------------------------------------------------------------------ memories

    async def add_memory(
        self,
        scope: Scope,
        text: str,
        *,
        kind: str = "fact",
        speaker: str | None = None,
        importance: float = 0.5,
        pinned: bool = False,
        source_turn_ids: Sequence[int] = (),
        valid_from: datetime | None = None,
    ) -> MemoryRecord:
        """Store a memory in SQL, then index it; an index failure leaves it for ``reindex``, never lost."""
        if not text.strip():
            raise ValueError("a memory needs some text")
        if not 0.0 <= importance <= 1.0:
            raise ValueError(f"importance must be between 0 and 1, not {importance}")
        now = utcnow()
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            row = await uow.memories.add(
                Memory(
                    user_id=ids.user_id,
                    scope_id=ids.scope_id,
                    realm=scope.realm,
                    kind=kind,
                    speaker=speaker,
                    text=text,
                    importance=importance,
                    pinned=pinned,
                    created_at=now,
                    valid_from=valid_from or now,
                    source_turn_ids=list(source_turn_ids),
                    meta={},
                )
            )
            await uow.commit()
        record = _memory_record(row)
        try:
            vector = (await self.embedder.embed([text]))[0]
            await self._upsert(
                Partition(scope.user_key, scope.realm),
                [VectorItem(f"m{record.id}", vector.tolist(), {"kind": "memory", "at": now.timestamp()})],
            )
        except (VectorsUnavailable, EmbeddingError):
            return record  # kept in SQL with no embedding model; the next reindex indexes it
        async with UnitOfWork(self._sessions) as uow:
            await uow.memories.mark_indexed([record.id], self.embedder.model_id)
            await uow.commit()
        return record

    async def get_memory(self, scope: Scope, memory_id: int) -> MemoryRecord | None:
        """Return one of this person's memories readable from this scope, or None."""
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            row = await uow.memories.get(
                ids.user_id, await self._readable_realms(uow, scope, ids.user_id), memory_id
            )
            return _memory_record(row) if row is not None else None

    async def list_memories(
        self, scope: Scope, *, current_only: bool = True, limit: int = 50, offset: int = 0
    ) -> list[MemoryRecord]:
        """Return a page of this person's memories readable from this scope, newest first."""
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            realms = await self._readable_realms(uow, scope, ids.user_id)
            rows = await uow.memories.page(
                ids.user_id, realms, current_only=current_only, limit=limit, offset=offset
            )
            return [_memory_record(r) for r in rows]

    async def delete_memory(self, scope: Scope, memory_id: int) -> bool:
        """Delete one memory from SQL and the index; return whether it existed for this person."""
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            row = await uow.memories.get(
                ids.user_id, await self._readable_realms(uow, scope, ids.user_id), memory_id
            )
            if row is None:
                return False
            realm = row.realm
            await uow.memories.delete(ids.user_id, [realm], memory_id)
            await uow.commit()
        try:
            await self.vectors.delete(self.space, Partition(scope.user_key, realm), [f"m{memory_id}"])
        except VectorsUnavailable as exc:
            # The SQL row is gone, so a stale vector can never be returned (hits are re-read from SQL);
            # reindex removes it for good.
            self._vectors_failed(exc)
        return True

    async def set_cross_realm_recall(self, scope: Scope, enabled: bool) -> None:
        """Opt this person in to (or out of) recall across servers and DMs."""
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            await uow.people.update_user_settings(ids.user_id, {"cross_realm_recall": enabled})
            await uow.commit()

    # ------------------------------------------------------------------ recall

    async def search(
        self, scope: Scope, query: str, k: int = 10, kinds: Sequence[str] = ("memory", "turn")
    ) -> list[Recalled]:
        """Return up to k memories and turns for ``query``, nearest first, from this person's readable realms.

        Uses the vector index; when it is down (or holds another embedding space) falls back to SQL lexical
        matching by recency.
        """
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            realms = await self._readable_realms(uow, scope, ids.user_id)
        if self._space_note is None:
            try:
                return await self._semantic(scope, ids, realms, query, k, kinds)
            except (VectorsUnavailable, EmbeddingError) as exc:
                self._vectors_failed(exc)
        return await self._lexical(ids, realms, query, k, kinds)

    async def _semantic(
        self, scope: Scope, ids: _Ids, realms: list[str], query: str, k: int, kinds: Sequence[str]
    ) -> list[Recalled]:
        vector = (await self.embedder.embed([query]))[0]
        where = {"kind": kinds[0]} if len(kinds) == 1 else None
        hits = await self.vectors.query(
            self.space, [Partition(scope.user_key, realm) for realm in realms], vector, k, where
        )
        self._vectors_ok()
        by_kind: dict[str, list[int]] = defaultdict(list)
        for hit in hits:
            by_kind["memory" if hit.id[0] == "m" else "turn"].append(int(hit.id[1:]))
        # Re-read every hit from SQL with the owner filter: the index is derived and may be stale.
        async with UnitOfWork(self._sessions) as uow:
            memories = {m.id: m for m in await uow.memories.by_ids(ids.user_id, realms, by_kind["memory"])}
            turns = {
                t.id: t for t in await uow.conversations.turns_by_ids(ids.user_id, realms, by_kind["turn"])
            }
        out: list[Recalled] = []
        for hit in hits:
            similarity = 1.0 - hit.distance
            number = int(hit.id[1:])
            if hit.id[0] == "m" and number in memories:
                m = memories[number]
                out.append(
                    Recalled(
                        "memory",
                        m.id,
                        m.text,
                        m.created_at,
                        similarity,
                        {"semantic": similarity},
                        m.speaker,
                        m.realm,
                    )
                )
            elif hit.id[0] == "t" and number in turns:
                t = turns[number]
                out.append(
                    Recalled(
                        "turn",
                        t.id,
                        t.text,
                        t.created_at,
                        similarity,
                        {"semantic": similarity},
                        t.speaker,
                        t.realm,
                    )
                )
        return out

    async def _lexical(
        self, ids: _Ids, realms: list[str], query: str, k: int, kinds: Sequence[str]
    ) -> list[Recalled]:
        terms = query_terms(query)
        async with UnitOfWork(self._sessions) as uow:
            memories = (
                await uow.memories.lexical(ids.user_id, realms, terms, 200) if "memory" in kinds else []
            )
            turns = (
                await uow.conversations.lexical_turns(ids.user_id, realms, terms, 200)
                if "turn" in kinds
                else []
            )
        scored: list[Recalled] = []
        for kind, rows in (("memory", memories), ("turn", turns)):
            for row in rows:
                words = set(query_terms(row.text))
                overlap = len(words.intersection(terms)) / max(len(terms), 1)
                scored.append(
                    Recalled(
                        kind,
                        row.id,
                        row.text,
                        row.created_at,
                        overlap,
                        {"lexical": overlap},
                        row.speaker,
                        row.realm,
                    )
                )
        scored.sort(key=lambda r: (r.score, r.created_at), reverse=True)
        return scored[:k]

    # ------------------------------------------------------------------ cache facade

    async def take_rate_tokens(
        self, bucket: str, subject: str, capacity: float, refill_per_s: float, cost: float = 1.0
    ) -> RateDecision:
        """Take tokens from the named bucket of a subject (a user key or a guild)."""
        return await self.cache.take_tokens(f"rl:{bucket}:{subject}", capacity, refill_per_s, cost)

    # ------------------------------------------------------------------ vector tier state

    async def _upsert(self, partition: Partition, items: list[VectorItem]) -> None:
        try:
            await self.vectors.upsert(self.space, partition, items)
        except VectorsUnavailable as exc:
            self._vectors_failed(exc)
            raise
        self._vectors_ok()

    def _vectors_failed(self, exc: Exception) -> None:
        if self._vectors_error is None:
            log.warning("vector tier unavailable, recall falls back to SQL: %s", exc)
        self._vectors_error = str(exc) or type(exc).__name__

    def _vectors_ok(self) -> None:
        if self._vectors_error is not None:
            log.warning("vector tier is back")
        self._vectors_error = None

    # ------------------------------------------------------------------ maintenance

    async def reindex(
        self, progress: Callable[[int, int], None] | None = None, batch: int = 256
    ) -> ReindexReport:
        """Rebuild the vector index from SQL in the current embedding space, then forget the old space."""
        async with UnitOfWork(self._sessions) as uow:
            recorded = await uow.meta.get(SPACE_KEY)
            total = await uow.memories.count() + await uow.conversations.count_turns()
        await self.vectors.drop_space(self.space)
        done = memories = turns = 0
        async with UnitOfWork(self._sessions) as uow:
            async for mem_rows in uow.memories.iter_current(batch):
                vectors = await self.embedder.embed([m.text for m, _ in mem_rows])
                groups: dict[Partition, list[VectorItem]] = defaultdict(list)
                for (m, user_key), vec in zip(mem_rows, vectors, strict=True):
                    groups[Partition(user_key, m.realm)].append(
                        VectorItem(
                            f"m{m.id}", vec.tolist(), {"kind": "memory", "at": m.created_at.timestamp()}
                        )
                    )
                for partition, items in groups.items():
                    await self.vectors.upsert(self.space, partition, items)
                async with UnitOfWork(self._sessions) as writer:
                    await writer.memories.mark_indexed([m.id for m, _ in mem_rows], self.embedder.model_id)
                    await writer.commit()
                memories += len(mem_rows)
                done += len(mem_rows)
                if progress:
                    progress(done, total)
            async for turn_rows in uow.conversations.iter_turns(batch):
                vectors = await self.embedder.embed([_turn_text(t.speaker, t.text) for t, _ in turn_rows])
                groups = defaultdict(list)
                for (t, user_key), vec in zip(turn_rows, vectors, strict=True):
                    groups[Partition(user_key, t.realm)].append(
                        VectorItem(f"t{t.id}", vec.tolist(), {"kind": "turn", "at": t.created_at.timestamp()})
                    )
                for partition, items in groups.items():
                    await self.vectors.upsert(self.space, partition, items)
                turns += len(turn_rows)
                done += len(turn_rows)
                if progress:
                    progress(done, total)
        dropped: list[str] = []
        if recorded and recorded.get("space") not in (None, self.space):
            await self.vectors.drop_space(str(recorded["space"]))
            dropped.append(str(recorded["space"]))
        async with UnitOfWork(self._sessions) as uow:
            await uow.meta.put(SPACE_KEY, self._space_record())
            await uow.commit()
        self._space_note = None
        self._vectors_ok()
        return ReindexReport(self.space, self.embedder.model_id, memories, turns, dropped)

    async def schema_revision(self) -> str | None:
        """Return the migration revision recorded in the database."""
        return await migrate.current_revision(self.engine)

    async def health(self) -> list[TierHealth]:
        """Report each tier: backend, reachable or not, latency, and why it is degraded."""
        return [
            await self._sql_health(),
            self._cache_health(),
            await self._vectors_health(),
            self._embedding_health(),
        ]

    async def _sql_health(self) -> TierHealth:
        url = str(self.engine.url)
        try:
            latency = await ping(self.engine)
            revision = await self.schema_revision()
        except SQLUnavailable as exc:
            return TierHealth("sql", backend_name(url), Status.DOWN, detail=str(exc))
        head = migrate.head_revision()
        status, detail = Status.OK, f"{redacted(url)} schema {revision}"
        if revision != head:
            status, detail = Status.DEGRADED, f"schema {revision}, expected {head}: run `kindred migrate`"
        return TierHealth("sql", backend_name(url), status, latency, detail, {"schema": revision})

    def _cache_health(self) -> TierHealth:
        health = getattr(self.cache, "health", None)
        if callable(health):
            result = health()
            assert isinstance(result, TierHealth)
            return result
        return TierHealth("cache", self.cache.backend, Status.OK)

    async def _vectors_health(self) -> TierHealth:
        backend = getattr(self.vectors, "backend", "chroma")
        try:
            latency = await self.vectors.ping()
        except VectorsUnavailable as exc:
            self._vectors_failed(exc)
            return TierHealth("vectors", backend, Status.DOWN, detail=f"{exc}; recall falls back to SQL")
        self._vectors_ok()
        if self._space_note:
            return TierHealth("vectors", backend, Status.DEGRADED, latency, self._space_note)
        return TierHealth("vectors", backend, Status.OK, latency, f"space {self.space}")

    def _embedding_health(self) -> TierHealth:
        status = Status.DEGRADED if self._space_note else Status.OK
        return TierHealth(
            "embedding",
            self.settings.embedding.provider,
            status,
            detail=f"{self.embedder.model_id} ({self.embedder.dimension}-d)",
            extra={"model_id": self.embedder.model_id, "dimension": self.embedder.dimension},
        )


async def _require_current_schema(engine: AsyncEngine) -> None:
    revision = await migrate.current_revision(engine)
    head = migrate.head_revision()
    if revision != head:
        raise SchemaOutdated(
            f"the database schema is at {revision or 'nothing'} but this Kindred needs {head}; "
            "run `kindred migrate` or set storage.sql.auto_migrate to true"
        )


def query_terms(text: str) -> list[str]:
    """Return the lower-cased content words of ``text``."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1]


def _window_key(scope: Scope) -> str:
    return f"{WINDOW_PREFIX}{scope.conversation_key}"


def _turn_text(speaker: str | None, text: str) -> str:
    # Who said it matters for recall ("what did Caroline say about...").
    return f'{speaker} said, "{text}"' if speaker else text


def _turn_record(row: Turn, scope: Scope) -> TurnRecord:
    return TurnRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        role=row.role,
        speaker=row.speaker,
        text=row.text,
        created_at=row.created_at,
        message_id=row.message_id,
        channel_id=scope.channel_id,
        meta=dict(row.meta or {}),
    )


def _memory_record(row: Memory) -> MemoryRecord:
    return MemoryRecord(
        id=row.id,
        kind=row.kind,
        text=row.text,
        speaker=row.speaker,
        importance=row.importance,
        pinned=row.pinned,
        created_at=row.created_at,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        realm=row.realm,
        source_turn_ids=[int(i) for i in row.source_turn_ids or []],
        superseded_by=row.superseded_by,
    )
