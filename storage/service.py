"""StorageService: the only door to data, over the cache, SQL and vector tiers.

SQL is the source of truth. The cache mirrors recent windows and may vanish; the vector index is derived
from SQL and can be rebuilt with ``reindex``. When the cache or the vector tier fails, the service keeps
working on what is left and says so in ``health()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.admin import AdminStore
from storage.cache import Cache, make_cache
from storage.cache.base import RateDecision
from storage.compression import CompressionReport, MemoryTiers, Summariser, quantise
from storage.config import CompressionSettings, StorageSettings
from storage.crystals import CrystalStore
from storage.embedding import make_embedder
from storage.embedding.base import Embedder, EmbeddingError, space_id
from storage.health import Status, TierHealth
from storage.importance import ImportanceStore, NewMemory
from storage.personal_data import PersonalData
from storage.queue import JobQueue, NewJob, make_queue
from storage.recall.engine import Asker, Recall, recalled
from storage.recall.lexical import Visibility
from storage.records import MemoryRecord, Recalled, ReindexReport, SessionRef, TurnRecord, turn_record
from storage.scope import Scope
from storage.sql import migrate
from storage.sql.engine import SQLUnavailable, backend_name, make_engine, ping, redacted, wait_until_ready
from storage.sql.models import Memory, Turn, utcnow
from storage.sql.repositories import asking
from storage.sql.turn_writer import SESSION_CLOSED, SessionClosed, TurnWriter, Written, turn_params
from storage.sql.uow import UnitOfWork
from storage.support import SupportStore
from storage.vectors import make_vector_index
from storage.vectors.base import Partition, VectorIndex, VectorItem, VectorsUnavailable

log = logging.getLogger(__name__)

SPACE_KEY = "embedding_space"
WINDOW_PREFIX = "win:"
PLACE_PREFIX = "place:"
REALMS_PREFIX = "realms:"
REALMS_TTL_S = 60.0
# A person's settings are read on every turn (the AI disclosure, the response style); a change made through
# this service clears them at once, one made by a worker in another process without a shared cache (the
# embedded default's separate `kindred worker`) shows within this many seconds.
SETTINGS_PREFIX = "settings:"
SETTINGS_TTL_S = 30.0
PLACE_TTL_S = 60.0
# Conversations are touched at most this often; idle detection works in minutes, not milliseconds.
TOUCH_EVERY_S = 60.0
# Idle sessions are closed this many per transaction, so one sweep never holds a huge lock.
IDLE_CLOSE_BATCH = 500
LEASE_PREFIX = "lease:"
STATUS_PREFIX = "status:"
USAGE_PREFIX = "usage:"
# Usage counters are updated under a cache lock held this long at most, tried this many times.
USAGE_LOCK_TTL_S = 5.0
USAGE_LOCK_TRIES = 50
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


# The person and the place (platform, user, guild, channel), as the id cache knows them.
_IdsKey = tuple[str, str, str | None, str | None]


class StorageService:
    """Turns, memories, recall, rate limits and locks, scoped to a person and a place."""

    def __init__(
        self,
        settings: StorageSettings,
        engine: AsyncEngine,
        cache: Cache,
        vectors: VectorIndex,
        embedder: Embedder,
        jobs: JobQueue | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.cache = cache
        self.vectors = vectors
        self.embedder = embedder
        # The durable background job queue (SQL outbox, with Redis Streams dispatch when configured).
        self.jobs: JobQueue = jobs if jobs is not None else make_queue(settings, engine)
        self.space = space_id(embedder.model_id, embedder.dimension)
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, class_=AsyncSession)
        self._turns = TurnWriter(engine)
        self._ids: OrderedDict[_IdsKey, _Ids] = OrderedDict()
        self._conversations: dict[tuple[int, int], tuple[int, float]] = {}
        self._vectors_error: str | None = None
        self._space_note: str | None = None
        # The memory tiers: the compact cold tier in SQL and the compression that fills it.
        self.tiers = MemoryTiers(
            self._sessions,
            vectors,
            embedder,
            self.space,
            settings.compression,
            self.add_memory,
            on_vectors_failed=self._vectors_failed,
        )
        # Hybrid recall (lexical, vectors, cold tier); ``search`` below is its only door.
        self.recall = Recall(engine, self.tiers, self._vectors_failed, self._vectors_ok)
        self.admin = AdminStore(self._sessions, cache)
        self.crystals = CrystalStore(self._sessions, cache, embedder)
        self.support = SupportStore(self._sessions, cache, self.recall.read)
        self.memory = ImportanceStore(self._sessions, cache, self.recall.write)
        self.personal = PersonalData(
            self._sessions, cache, vectors, self.jobs, self.space, (self._ids, self._conversations)
        )

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(
        cls,
        settings: StorageSettings,
        *,
        embedder: Embedder | None = None,
        cache: Cache | None = None,
        vectors: VectorIndex | None = None,
        jobs: JobQueue | None = None,
        migrate_schema: bool | None = None,
        require_schema: bool = True,
    ) -> StorageService:
        """Connect every tier, migrate (when configured) and check the embedding space.

        ``require_schema=False`` opens an outdated database anyway, for ``doctor`` to report on.
        """
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if vectors is None:
            vectors = make_vector_index(settings.vectors, settings.chroma_path())
        url = settings.sql_url()
        engine = make_engine(url, settings.sql)
        try:
            await wait_until_ready(engine, settings.sql.connect_retries, settings.sql.connect_retry_delay_s)
            if settings.sql.auto_migrate if migrate_schema is None else migrate_schema:
                await migrate.upgrade(engine)
            elif require_schema:
                await _require_current_schema(engine)
            ready = await _ready_embedder(
                embedder if embedder is not None else make_embedder(settings.embedding)
            )
        except BaseException:
            await engine.dispose()
            raise
        service = cls(
            settings,
            engine,
            cache if cache is not None else make_cache(settings.cache, stale_prefixes=(WINDOW_PREFIX,)),
            vectors,
            ready,
            jobs,
        )
        await service._check_space()
        return service

    def warm(self) -> None:
        """Start the embedded vector store's process in the background, if it is not running.

        Otherwise the first call to the vector tier starts it and waits for it (about a second). The bot
        calls this once it has started, so that the process's imports do not compete with its own start.
        """
        warm = getattr(self.vectors, "warm", None)
        if warm is not None:
            warm()

    async def close(self) -> None:
        """Close every tier's connections."""
        # Promotions under way write to SQL and the index: let them land before either closes.
        await self.tiers.settle()
        for closer in (
            self.jobs.close,
            self.cache.close,
            self.vectors.close,
            self.embedder.close,
            self._turns.close,
            self.recall.close,
        ):
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
        key = _ids_key(scope)
        found = self._ids.get(key)
        if found is not None:
            self._ids.move_to_end(key)
            return found
        # After a restart every person is a miss once: one read finds both ids, and only a person or place
        # seen for the first time costs the inserts (which take the write lock).
        known = await uow.people.find(scope.platform, scope.user_id, scope.guild_id, scope.channel_id)
        user_id, scope_id = known.user_id, known.scope_id
        if user_id is None:
            user_id = await uow.people.ensure_user(scope.platform, scope.user_id, display_name)
        if scope_id is None:
            scope_id = await uow.people.ensure_scope(scope.platform, scope.guild_id, scope.channel_id)
        return self._keep_ids(key, _Ids(user_id, scope_id))

    async def _ids_of(self, scope: Scope) -> _Ids:
        """Return the person's and the place's ids: cached, else by a unit of work of their own."""
        found = self._ids.get(_ids_key(scope))
        if found is not None:
            return found
        async with UnitOfWork(self._sessions) as uow:
            found = await self._resolve(uow, scope)
            await uow.commit()
        return found

    def _keep_ids(self, key: _IdsKey, ids: _Ids) -> _Ids:
        self._ids[key] = ids
        if len(self._ids) > self.settings.cache.max_entries:
            self._ids.popitem(last=False)
        return ids

    async def _readable_realms(self, uow: UnitOfWork, scope: Scope, user_id: int) -> list[str]:
        # Memories stay in their realm unless the person opted in to recall across servers and DMs.
        # Cached (shared through Redis when configured) because every recall needs it; a realm the person
        # first appears in shows up within REALMS_TTL_S, and changing the opt-in clears it at once.
        key = _realms_key(scope)
        cached = await self.cache.get(key)
        if cached is not None:
            return list(json.loads(cached))
        realms = [scope.realm]
        if (await uow.people.user_settings(user_id)).get("cross_realm_recall"):
            realms = sorted({scope.realm, *await uow.people.realms_of(user_id)})
        await self.cache.set(key, json.dumps(realms), ttl_s=REALMS_TTL_S)
        return realms

    async def _asker(self, scope: Scope) -> tuple[_Ids, list[str]]:
        """Return who asks, and the realms they may recall from, for a search.

        From the caches when both hold them; else from one read on recall's own blocking connection (one
        thread hop, where a unit of work through aiosqlite takes about ten, and at a million memories most
        people asking are not cached); a person or place never seen, or someone who opted in to recall
        across realms, takes the general path.
        """
        key = _ids_key(scope)
        ids = self._ids.get(key)
        realms_key = _realms_key(scope)
        cached = await self.cache.get(realms_key)
        if ids is not None and cached is not None:
            self._ids.move_to_end(key)
            return ids, list(json.loads(cached))
        found = await self.recall.read(
            partial(
                asking,
                platform=scope.platform,
                user=scope.user_id,
                guild=scope.guild_id,
                channel=scope.channel_id,
            )
        )
        known = found.user_id is not None and found.scope_id is not None
        if known and not found.settings.get("cross_realm_recall"):
            assert found.user_id is not None and found.scope_id is not None
            ids = self._keep_ids(key, _Ids(found.user_id, found.scope_id))
            if cached is None:
                await self.cache.set(realms_key, json.dumps([scope.realm]), ttl_s=REALMS_TTL_S)
            return ids, [scope.realm]
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            realms = await self._readable_realms(uow, scope, ids.user_id)
            await uow.commit()
        return ids, realms

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
        given = dict(meta or {})
        values: dict[str, Any] = {
            "realm": scope.realm,
            "role": role,
            "speaker": speaker,
            "text": text,
            "message_id": message_id,
            "created_at": when,
        }
        # The common case, a known person in a session of theirs cached here, is one statement with no unit
        # of work (two when the session's once-a-minute touch is due, in the same hop); whether remembering is
        # paused is decided inside it (storage/sql/turn_writer.py).
        known = self._known_conversation(scope)
        inserted: Written = SESSION_CLOSED
        if known is not None:
            ids, values["conversation_id"], touch_due = known
            values.update(user_id=ids.user_id, scope_id=ids.scope_id)
            touch = (values["conversation_id"], when) if touch_due else None
            inserted = await self._turns.insert(turn_params(values, given), touch)
            session = (ids.user_id, ids.scope_id)
            if inserted is SESSION_CLOSED:
                self._conversations.pop(session, None)  # another process's idle sweep closed it
            elif touch_due:
                self._conversations[session] = (values["conversation_id"], time.monotonic())
        if isinstance(inserted, SessionClosed):
            # Someone new here, or a session that was closed: the unit of work resolves and opens one.
            async with UnitOfWork(self._sessions) as uow:
                ids = await self._resolve(uow, scope, speaker if role == "user" else None)
                values["conversation_id"] = await self._conversation(uow, ids, scope, when)
                values.update(user_id=ids.user_id, scope_id=ids.scope_id)
                params = turn_params(values, given)
                inserted = await uow.conversations.insert_turn(self._turns.statement, params)
                await uow.commit()
        if inserted is None:
            # A message recorded before (a gateway replay) conflicts and inserts nothing.
            assert message_id is not None  # only the message-id constraint can conflict
            async with UnitOfWork(self._sessions) as uow:
                existing = await uow.conversations.turn_by_message(ids.user_id, message_id, role)
            assert existing is not None
            return turn_record(existing, scope)
        turn_id, stored_meta = inserted
        record = TurnRecord(
            id=turn_id,
            conversation_id=values["conversation_id"],
            role=role,
            speaker=speaker,
            text=text,
            created_at=when,
            message_id=message_id,
            channel_id=scope.channel_id,
            meta=stored_meta,
        )
        await self._mirror(scope, record)
        return record

    def _known_conversation(self, scope: Scope) -> tuple[_Ids, int, bool] | None:
        # The person's ids and open session when both are cached, and whether the session's touch is due.
        ids = self._ids.get(_ids_key(scope))
        if ids is None:
            return None
        cached = self._conversations.get((ids.user_id, ids.scope_id))
        if cached is None:
            return None
        return ids, cached[0], time.monotonic() - cached[1] > TOUCH_EVERY_S

    async def _conversation(self, uow: UnitOfWork, ids: _Ids, scope: Scope, when: datetime) -> int:
        key = (ids.user_id, ids.scope_id)
        cached = self._conversations.get(key)
        now = time.monotonic()
        if cached is not None:
            conversation_id, touched = cached
            if now - touched <= TOUCH_EVERY_S:
                return conversation_id
            if await uow.conversations.touch(conversation_id, when):
                self._conversations[key] = (conversation_id, now)
                return conversation_id
            # Another process's idle sweep closed it: this turn starts a new session.
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
        records = [turn_record(row, scope) for row in rows]
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

    async def close_idle_sessions(self, idle_s: float) -> int:
        """Close every open session with no activity for ``idle_s`` seconds; return how many were closed."""
        return len(await self.close_idle_sessions_detailed(idle_s))

    async def close_idle_sessions_detailed(self, idle_s: float) -> list[SessionRef]:
        """Close every open session idle for ``idle_s`` seconds; return which (e.g. to summarise them)."""
        if idle_s <= 0:
            raise ValueError("idle_s must be positive")
        now = utcnow()
        cutoff = now - timedelta(seconds=idle_s)
        refs: list[SessionRef] = []
        while True:
            async with UnitOfWork(self._sessions) as uow:
                closed = await uow.conversations.close_idle(cutoff, now, IDLE_CLOSE_BATCH)
                await uow.commit()
            keys = []
            for c in closed:
                self._conversations.pop((c.user_id, c.scope_id), None)
                place = Scope(c.external_user_id, c.guild_id or None, c.channel_id or None, c.platform)
                keys.append(_window_key(place))
                refs.append(SessionRef(place, c.conversation_id))
            if keys:
                await self.cache.delete(*keys)
            # A short batch means done; a session touched mid-sweep can also make one short, and whatever
            # that leaves behind is closed by the next sweep.
            if len(closed) < IDLE_CLOSE_BATCH:
                return refs

    async def session_turns(self, scope: Scope, conversation_id: int, limit: int = 500) -> list[TurnRecord]:
        """Return up to ``limit`` newest turns of one of this person's sessions, oldest first."""
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            await uow.commit()
            # The owner filter inside recent_turns makes another person's session id yield nothing.
            rows = await uow.conversations.recent_turns(conversation_id, ids.user_id, limit)
        return [
            turn_record(row, scope)
            for row in rows
            if row.realm == scope.realm and not (row.meta or {}).get("paused")
        ]

    async def index_turns(self, scope: Scope, turns: Sequence[TurnRecord]) -> int:
        """Embed turns and add them to the person's vector partition; return how many were indexed."""
        return await self.index_turn_groups([(scope, turns)])

    async def index_turn_groups(self, groups: Sequence[tuple[Scope, Sequence[TurnRecord]]]) -> int:
        """Index the turns of several people with one embedding call, each into its own partition."""
        items = [(scope, t) for scope, turns in groups for t in turns if t.text.strip()]
        if not items:
            return 0
        vectors = await self.embedder.embed([_turn_text(t.speaker, t.text) for _, t in items])
        partitions: dict[Partition, list[VectorItem]] = defaultdict(list)
        for (scope, t), vec in zip(items, vectors, strict=True):
            partitions[Partition(scope.user_key, scope.realm)].append(
                VectorItem(f"t{t.id}", vec.tolist(), {"kind": "turn", "at": t.created_at.timestamp()})
            )
        # All at once: the embedded store's process queues them back to back, with no round trip between.
        await asyncio.gather(*(self._upsert(partition, part) for partition, part in partitions.items()))
        return len(items)

    async def turns_for_indexing(self, scope: Scope, turn_ids: Sequence[int]) -> list[TurnRecord]:
        """Return the person's turns with these ids from this scope's realm (others' ids yield nothing)."""
        return (await self.turns_for_indexing_many({scope: turn_ids}))[scope]

    async def turns_for_indexing_many(
        self, wanted: Mapping[Scope, Sequence[int]]
    ) -> dict[Scope, list[TurnRecord]]:
        """``turns_for_indexing`` for several people at once, in one SELECT (a batch of index jobs)."""
        async with UnitOfWork(self._sessions) as uow:
            owners = {scope: await self._resolve(uow, scope) for scope in wanted}
            await uow.commit()
            every_id = sorted({int(i) for ids in wanted.values() for i in ids})
            rows = await uow.conversations.turns_with_ids(every_id)
        by_id = {row.id: row for row in rows}
        found: dict[Scope, list[TurnRecord]] = {}
        for scope, ids in wanted.items():
            owner = owners[scope].user_id
            found[scope] = [
                turn_record(row, scope)
                for row in sorted((by_id[i] for i in set(ids) if i in by_id), key=lambda r: r.id)
                # Another person's id, or another realm's, yields nothing; said while remembering was paused:
                # never indexed, never reflected on.
                if row.user_id == owner and row.realm == scope.realm and not (row.meta or {}).get("paused")
            ]
        return found

    async def enqueue_job(
        self,
        job_type: str,
        key: str,
        payload: dict[str, Any],
        *,
        scope: Scope | None = None,
        urgent: bool = False,
    ) -> bool:
        """Enqueue a background job, owned by the scope's person (so forget-me removes it); False if known."""
        return (await self.enqueue_jobs([NewJob(job_type, key, payload, urgent)], scope=scope))[0]

    async def enqueue_jobs(self, jobs: Sequence[NewJob], *, scope: Scope | None = None) -> list[bool]:
        """Enqueue several jobs of the scope's person in one write; for each, False when it was known."""
        user_id = None if scope is None else (await self._ids_of(scope)).user_id
        return await self.jobs.enqueue_many(jobs, user_id=user_id)

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
        key: str | None = None,
        value: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> MemoryRecord:
        """Store a memory in SQL, then index it; an index failure leaves it for ``reindex``, never lost.

        A ``key`` makes it a versioned fact (``lives_in``, ``pet:name``): the person's current memory of the
        same kind and key in this realm is superseded when its ``value`` differs (it gets ``valid_to`` and
        ``superseded_by``; history is kept), and returned unchanged when the value is the same, so storing
        one statement twice stores it once. An older statement than the current one is kept as history.
        """
        if not text.strip():
            raise ValueError("a memory needs some text")
        if not 0.0 <= importance <= 1.0:
            raise ValueError(f"importance must be between 0 and 1, not {importance}")
        draft = NewMemory(text, kind, importance, pinned, dict(meta or {}))
        importance, meta = await self.memory.score_new(scope, draft), draft.meta
        now = utcnow()
        start = valid_from or now
        extra = dict(meta or {})
        if key is not None:
            extra.update(key=key, value=value)
        superseded: list[int] = []
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            versions = await uow.memories.with_key(ids.user_id, scope.realm, kind, key) if key else []
            current = [v for v in versions if v.valid_to is None]
            same = next(
                (
                    v
                    for v in versions
                    if _same_value(v.meta.get("value"), value)
                    and (v.valid_to is None or v.valid_from == start)
                ),
                None,
            )
            if same is not None:
                await uow.commit()  # keeps the person's row if this call created it
                return _memory_record(same)
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
                    valid_from=start,
                    source_turn_ids=list(source_turn_ids),
                    meta=extra,
                )
            )
            newer = [v for v in current if v.valid_from > start]
            if newer:
                # Statements can be reflected out of order: one older than the current value is history.
                row.valid_to = newer[0].valid_from
                row.superseded_by = newer[0].id
            else:
                for version in current:
                    version.valid_to = start
                    version.superseded_by = row.id
                    superseded.append(version.id)
            await uow.commit()
        record = _memory_record(row)
        if superseded:
            try:
                await self.vectors.delete(
                    self.space, Partition(scope.user_key, scope.realm), [f"m{i}" for i in superseded]
                )
            except VectorsUnavailable as exc:
                # Recall re-reads hits from SQL and skips superseded memories; reindex drops the vectors.
                self._vectors_failed(exc)
        if not record.current:
            return record  # history is kept in SQL only, like reindex does
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

    async def user_settings(self, scope: Scope) -> dict[str, Any]:
        """Return this person's settings (their choices and profile, e.g. the response style)."""
        key = f"{SETTINGS_PREFIX}{scope.user_key}"
        cached = await self.cache.get(key)
        if cached is not None:
            return dict(json.loads(cached))
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            await uow.commit()
            settings = await uow.people.user_settings(ids.user_id)
        await self.cache.set(key, json.dumps(settings, default=str), ttl_s=SETTINGS_TTL_S)
        return settings

    async def update_user_settings(self, scope: Scope, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into this person's settings; return the result."""
        async with UnitOfWork(self._sessions) as uow:
            ids = await self._resolve(uow, scope)
            merged = await uow.people.update_user_settings(ids.user_id, changes)
            await uow.commit()
        await self.cache.delete(f"{SETTINGS_PREFIX}{scope.user_key}")
        return merged

    async def set_cross_realm_recall(self, scope: Scope, enabled: bool) -> None:
        """Opt this person in to (or out of) recall across servers and DMs."""
        await self.update_user_settings(scope, {"cross_realm_recall": enabled})
        await self.cache.delete_prefix(f"{REALMS_PREFIX}{scope.user_key}:")

    # ------------------------------------------------------------------ places

    async def place_settings(
        self, platform: str, guild_id: str | None, channel_id: str | None, parent_id: str | None = None
    ) -> dict[str, Any]:
        """Return a place's effective settings: guild-wide, then the parent channel, then the channel.

        Threads pass their parent channel as ``parent_id`` and so inherit its settings.
        """
        if guild_id is None:
            return {}
        key = f"{PLACE_PREFIX}{platform}:{guild_id}:{parent_id or '-'}:{channel_id or '-'}"
        cached = await self.cache.get(key)
        if cached is not None:
            return dict(json.loads(cached))
        levels = ["", *(c for c in (parent_id, channel_id) if c)]
        async with UnitOfWork(self._sessions) as uow:
            scope_ids = [await uow.people.ensure_scope(platform, guild_id, c or None) for c in levels]
            await uow.commit()
            merged: dict[str, Any] = {}
            for settings in await uow.people.place_settings(scope_ids):
                merged.update(settings)
        await self.cache.set(key, json.dumps(merged), ttl_s=PLACE_TTL_S)
        return merged

    async def update_place_settings(
        self, platform: str, guild_id: str, channel_id: str | None, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """Change a channel's settings (guild-wide when ``channel_id`` is None); None removes a key."""
        async with UnitOfWork(self._sessions) as uow:
            scope_id = await uow.people.ensure_scope(platform, guild_id, channel_id)
            merged = await uow.people.update_place_settings(scope_id, changes)
            await uow.commit()
        await self.cache.delete_prefix(f"{PLACE_PREFIX}{platform}:{guild_id}:")
        return merged

    async def channels_with(self, platform: str, guild_id: str, key: str) -> list[tuple[str, Any]]:
        """Return (channel id, value) for each channel of a guild with ``key`` set ('' is guild-wide)."""
        async with UnitOfWork(self._sessions) as uow:
            return await uow.people.places_with(platform, guild_id, key)

    # ------------------------------------------------------------------ recall

    async def search(
        self,
        scope: Scope,
        query: str,
        k: int = 10,
        kinds: Sequence[str] = ("memory", "turn"),
        *,
        now: datetime | None = None,
        neighbours: int = 0,
        history: bool = False,
    ) -> list[Recalled]:
        """Return up to k memories and turns for ``query``, best first, from what this person may recall here.

        That is their own memories and turns in their readable realms and, in a server channel when
        ``storage.recall_channel_turns`` is on, what anyone said there in public (docs/memory.md says why).
        Lexical full-text and the vector and cold tiers are fused, then re-ranked by importance, recency,
        validity and any time the query names (relative to ``now``); each item's ``reasons`` holds those
        parts. ``neighbours`` turns either side of a recalled turn come along as its context. Superseded
        memories (an old value of a fact) are left out unless ``history``, and then rank after current ones.
        When the vector tier is down (or holds another embedding space) recall runs on the lexical index,
        time and recency alone.
        """
        unknown = set(kinds) - {"memory", "turn"}
        if unknown or not kinds:
            raise ValueError(f"kinds must be 'memory' and/or 'turn', not {sorted(unknown) or 'nothing'}")
        if neighbours < 0:
            raise ValueError("neighbours must be 0 or more")
        ids, realms = await self._asker(scope)
        # A server channel's public turns, when the operator turned that on (storage.recall_channel_turns).
        shared = ids.scope_id if self.settings.recall_channel_turns and not scope.is_dm else None
        asker = Asker(Visibility(ids.user_id, tuple(realms), shared), scope.user_key, scope.realm)
        found = await self.recall.search(
            asker,
            query,
            k,
            kinds,
            semantic=self._space_note is None,
            now=now,
            neighbours=neighbours,
            history=history,
        )
        return [recalled(f) for f in found]

    # ------------------------------------------------------------------ cache facade

    async def first_time(self, kind: str, subject: str, ttl_s: float) -> bool:
        """Return True the first time (kind, subject) is seen within ``ttl_s`` seconds, else False."""
        # A lock that is never released is a seen-marker that expires by itself.
        return await self.cache.acquire_lock(f"once:{kind}:{subject}", ttl_s) is not None

    async def claim_message(self, scope: Scope, message_id: str) -> bool:
        """Return True if this platform message was not handled before (gateway replays return False)."""
        if not await self.first_time("msg", f"{scope.user_key}:{message_id}", ttl_s=86_400):
            return False
        # The cache may have lost its marker (restart, outage); SQL keeps every recorded message. A known
        # person's check is one prebuilt SELECT outside any unit of work (storage/sql/turn_writer.py).
        ids = await self._ids_of(scope)
        return not await self._turns.recorded(ids.user_id, message_id, "user")

    async def take_rate_tokens(
        self, bucket: str, subject: str, capacity: float, refill_per_s: float, cost: float = 1.0
    ) -> RateDecision:
        """Take tokens from the named bucket of a subject (a user key or a guild)."""
        return await self.cache.take_tokens(f"rl:{bucket}:{subject}", capacity, refill_per_s, cost)

    async def count_usage(self, bucket: str, amount: float, ttl_s: float) -> float:
        """Add ``amount`` to a usage counter that lives ``ttl_s`` seconds; return its total.

        Counters live in the cache: losing it (an outage, a restart) resets them, which budgets accept.
        """
        key = f"{USAGE_PREFIX}{bucket}"
        if amount == 0:
            return _as_float(await self.cache.get(key))
        # Read-add-write under a short lock, so workers sharing Redis do not lose each other's counts.
        for _ in range(USAGE_LOCK_TRIES):
            token = await self.cache.acquire_lock(f"{key}:lock", USAGE_LOCK_TTL_S)
            if token is not None:
                break
            await asyncio.sleep(0.01)
        try:
            total = _as_float(await self.cache.get(key)) + amount
            await self.cache.set(key, repr(total), ttl_s=max(ttl_s, 1.0))
        finally:
            if token is not None:
                await self.cache.release_lock(f"{key}:lock", token)
        return total

    async def status_note(self, name: str) -> dict[str, Any] | None:
        """Return the named status note a background feature keeps for operators (``jobs status``)."""
        async with UnitOfWork(self._sessions) as uow:
            return await uow.meta.get(_status_key(name))

    async def put_status_note(self, name: str, value: dict[str, Any]) -> None:
        """Replace the named status note (durable, so another process such as the CLI can read it)."""
        async with UnitOfWork(self._sessions) as uow:
            await uow.meta.put(_status_key(name), value)
            await uow.commit()

    # ------------------------------------------------------------------ leases

    async def try_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take the named lease for ``ttl_s`` seconds if free or expired, or renew it; return whether held."""
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        async with UnitOfWork(self._sessions) as uow:
            held = await uow.meta.try_lease(_lease_key(name), holder, ttl_s)
            await uow.commit()
        return held

    async def release_lease(self, name: str, holder: str) -> bool:
        """Give up the named lease if ``holder`` holds it; return whether it did."""
        async with UnitOfWork(self._sessions) as uow:
            released = await uow.meta.release_lease(_lease_key(name), holder)
            await uow.commit()
        return released

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

    async def compress(
        self,
        summariser: Summariser | None = None,
        *,
        now: datetime | None = None,
        settings: CompressionSettings | None = None,
    ) -> CompressionReport:
        """Summarise quiet sessions, merge near-duplicate memories and move cold items to the compact tier.

        Without a summariser sessions are left for a run that has one. Counts only, never text, are returned.
        """
        report = CompressionReport()
        if self._space_note is not None:
            report.errors.append("the index holds another embedding space: run `kindred reindex` first")
            return report
        try:
            tiers = self.tiers if settings is None else self.tiers.configured(settings)
            await tiers.compress(summariser, now=now, report=report)
        except (VectorsUnavailable, EmbeddingError) as exc:
            self._vectors_failed(exc)
            report.errors.append(f"vector tier unavailable: {type(exc).__name__}")
        return report

    async def _reindex_rows(self, kind: str, rows: list[tuple[Any, str]]) -> None:
        """Embed one batch of memories or turns (with their owners' user keys) into the current space."""
        texts = [row.text if kind == "memory" else _turn_text(row.speaker, row.text) for row, _ in rows]
        vectors = await self.embedder.embed(texts)
        groups: dict[Partition, list[VectorItem]] = defaultdict(list)
        cold_rows: dict[int, bytes] = {}  # cold items stay cold, re-quantised in the new space
        for (row, user_key), vec in zip(rows, vectors, strict=True):
            if row.cold_vector is not None:
                cold_rows[row.id] = quantise(vec, self.settings.compression.cold_vector_bits)
                continue
            groups[Partition(user_key, row.realm)].append(
                VectorItem(
                    f"{kind[0]}{row.id}", vec.tolist(), {"kind": kind, "at": row.created_at.timestamp()}
                )
            )
        for partition, items in groups.items():
            await self.vectors.upsert(self.space, partition, items)
        async with UnitOfWork(self._sessions) as writer:
            if kind == "memory":
                await writer.memories.mark_indexed([row.id for row, _ in rows], self.embedder.model_id)
            if cold_rows:
                await writer.tiers.set_cold(Memory if kind == "memory" else Turn, cold_rows)
            await writer.commit()

    async def reindex(
        self, progress: Callable[[int, int], None] | None = None, batch: int = 256
    ) -> ReindexReport:
        """Rebuild the vector index from SQL in the current embedding space, then forget the old space."""
        async with UnitOfWork(self._sessions) as uow:
            recorded = await uow.meta.get(SPACE_KEY)
            total = await uow.memories.count() + await uow.conversations.count_turns()
        try:
            await self.vectors.ping()
        except VectorsUnavailable:
            # An unreadable embedded store cannot be dropped space by space: set it aside, build anew.
            set_aside = getattr(self.vectors, "set_aside", None)
            if set_aside is None or await set_aside() is None:
                raise
        await self.vectors.drop_space(self.space)
        # Each batch is read, embedded and written in short transactions of its own, so a long reindex
        # never holds SQLite's write lock (taken at a transaction's first write) while the bot talks.
        done = 0
        counts = {"memory": 0, "turn": 0}
        for kind in counts:
            last = 0
            while True:
                async with UnitOfWork(self._sessions) as uow:
                    rows: list[tuple[Any, str]] = (
                        await uow.memories.current_after(last, batch)
                        if kind == "memory"
                        else await uow.conversations.turns_after(last, batch)
                    )
                if not rows:
                    break
                last = rows[-1][0].id
                await self._reindex_rows(kind, rows)
                counts[kind] += len(rows)
                done += len(rows)
                if progress:
                    progress(done, total)
        memories, turns = counts["memory"], counts["turn"]
        dropped: list[str] = []
        if recorded and recorded.get("space") not in (None, self.space):
            await self.vectors.drop_space(str(recorded["space"]))
            dropped.append(str(recorded["space"]))
        async with UnitOfWork(self._sessions) as uow:
            await uow.meta.put(SPACE_KEY, self._space_record())
            await uow.commit()
        self._space_note = None
        self._vectors_ok()
        self.tiers.cache.clear()  # decoded in the old space
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


async def _ready_embedder(embedder: Embedder) -> Embedder:
    # An OpenAI-compatible endpoint says its dimension only when asked; the space id needs it up front.
    try:
        await embedder.probe()
    except EmbeddingError as exc:
        raise EmbeddingError(
            f"the embedding provider did not answer ({exc}); make it reachable, or set "
            "storage.embedding.dimensions so Kindred can start and fall back to SQL recall"
        ) from exc
    return embedder


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


async def read_status_note(engine: AsyncEngine, name: str) -> dict[str, Any] | None:
    """Return a status note straight from the database (for the CLI, which opens no other tier)."""
    sessions = async_sessionmaker(engine, expire_on_commit=False, class_=AsyncSession)
    async with UnitOfWork(sessions) as uow:
        return await uow.meta.get(_status_key(name))


def _status_key(name: str) -> str:
    key = f"{STATUS_PREFIX}{name}"
    if not name or len(key) > 64:  # app_meta.key is VARCHAR(64)
        raise ValueError(f"a status note name must be 1-{64 - len(STATUS_PREFIX)} characters")
    return key


def _as_float(raw: str | None) -> float:
    try:
        return float(raw) if raw is not None else 0.0
    except ValueError:
        return 0.0


def _same_value(a: object, b: object) -> bool:
    # "Lisbon" and "lisbon." are the same value; a fact that only changed its case is not news.
    def norm(v: object) -> str:
        return " ".join(re.sub(r"[^\w\s]", " ", str(v if v is not None else "")).casefold().split())

    return norm(a) == norm(b)


def _lease_key(name: str) -> str:
    key = f"{LEASE_PREFIX}{name}"
    if not name or len(key) > 64:  # app_meta.key is VARCHAR(64)
        raise ValueError(f"a lease name must be 1-{64 - len(LEASE_PREFIX)} characters")
    return key


def _window_key(scope: Scope) -> str:
    return f"{WINDOW_PREFIX}{scope.conversation_key}"


def _ids_key(scope: Scope) -> _IdsKey:
    return (scope.platform, scope.user_id, scope.guild_id, scope.channel_id)


def _realms_key(scope: Scope) -> str:
    return f"{REALMS_PREFIX}{scope.user_key}:{scope.realm}"


def _turn_text(speaker: str | None, text: str) -> str:
    # Who said it matters for recall ("what did Caroline say about...").
    return f'{speaker} said, "{text}"' if speaker else text


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
        meta=dict(row.meta or {}),
    )
