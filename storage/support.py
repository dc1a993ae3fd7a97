"""The emotional-support store: each person's consent, profile, strategies and strategy history.

SQL is the source of truth: a person's state is read from it whenever they speak. Changes are applied to an
in-process copy first and then written to SQL. When SQL cannot be reached the copy keeps working (the person
is marked dirty, their strategy changes queue up) and is written back by the next call after SQL answers,
so a database outage loses none of it. The interventions under way (which approach Kindred took for which
message) are ephemeral by design and live in the cache only, keyed by the person's ``user_key``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    NotSupportedError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.cache import Cache
from storage.scope import Scope
from storage.sql.models import User, utcnow
from storage.sql.models_support import EmotionalProfile, StrategyHistory, UserSupportStrategy
from storage.sql.uow import UnitOfWork

log = logging.getLogger(__name__)

INTERVENTION_PREFIX = "support:iv:"
PENDING_PREFIX = "support:pending:"
# Errors that say the statement itself is wrong; any other database error means SQL is unreachable.
_QUERY_ERRORS = (IntegrityError, ProgrammingError, DataError, NotSupportedError)


def _outage(exc: BaseException) -> bool:
    """Return whether ``exc`` means SQL cannot be reached (so work goes on from memory), not a bug."""
    if isinstance(exc, DBAPIError):
        return not isinstance(exc, _QUERY_ERRORS)
    return isinstance(exc, (SQLAlchemyError, OSError, TimeoutError))


class SupportUnavailable(Exception):
    """A person's support state could not be read (SQL down and nothing held in memory)."""

    def __init__(self) -> None:
        super().__init__(
            "I can't reach my storage right now, so I can't change your support settings. "
            "Please try again in a minute."
        )


@dataclass
class StrategyStats:
    """The evidence about one approach for one person."""

    successes: float = 0.0
    failures: float = 0.0
    uses: int = 0
    updated_at: datetime | None = None

    @property
    def score(self) -> float:
        """Return the effectiveness: the posterior mean under a uniform Beta(1, 1) prior, in (0, 1)."""
        return (self.successes + 1.0) / (self.successes + self.failures + 2.0)


@dataclass(frozen=True, slots=True)
class StrategyChange:
    """One change of a strategy's score, kept as history."""

    strategy: str
    old_score: float
    new_score: float
    cause: str
    at: datetime


@dataclass
class SupportState:
    """Everything kept about one person's emotional support."""

    opted_in: bool | None = None  # None: they never chose; the place's default applies
    preferred: str | None = None
    baseline_valence: float | None = None
    last_emotion: str | None = None
    last_valence: float | None = None
    last_intensity: float | None = None
    last_at: datetime | None = None
    recent: list[dict[str, Any]] = field(default_factory=list)
    days: dict[str, dict[str, Any]] = field(default_factory=dict)
    strategies: dict[str, StrategyStats] = field(default_factory=dict)
    # Changes not yet written to SQL's history table.
    changes: list[StrategyChange] = field(default_factory=list)
    # False when SQL could not be read and nothing about the person was held in memory.
    loaded: bool = True

    def adjust(self, strategy: str, stats: StrategyStats, cause: str, at: datetime) -> None:
        """Replace a strategy's evidence and note the change of its score in the history."""
        old = self.strategies.get(strategy, StrategyStats()).score
        stats.updated_at = at
        self.strategies[strategy] = stats
        self.changes.append(StrategyChange(strategy, old, stats.score, cause, at))

    def copy(self) -> SupportState:
        """Return a deep copy, safe to hand to callers."""
        return copy.deepcopy(self)


# The state's profile fields and the emotional_profiles column each is stored in.
_PROFILE_COLUMNS = {
    f.name: "preferred_strategy" if f.name == "preferred" else f.name
    for f in fields(SupportState)
    if f.name not in ("strategies", "changes", "loaded")
}


@dataclass
class _Entry:
    state: SupportState
    profile_dirty: bool = False
    dirty_strategies: set[str] = field(default_factory=set)
    wipe: bool = False  # delete the person's rows before writing (a reset)
    # The users row the state was read under; if it is gone when writing, the person was forgotten.
    user_row: int | None = None

    @property
    def dirty(self) -> bool:
        return self.profile_dirty or bool(self.dirty_strategies) or bool(self.state.changes) or self.wipe


# The strategy columns a person's state is read with.
_STRATEGY_FIELDS = ("strategy", "successes", "failures", "uses", "updated_at")


def _read_state(conn: Connection, *, platform: str, external_id: str) -> tuple[SupportState, int | None]:
    """Return a person's state and their users row id (None, with an empty state, for a stranger).

    One statement: the person, their profile and one row per strategy (at least one row when they exist).
    """
    profile = EmotionalProfile.__table__.c
    strategy = UserSupportStrategy.__table__.c
    stmt = (
        select(
            User.id.label("user_row"),
            profile.user_id.label("has_profile"),
            *(profile[column].label(f"p_{name}") for name, column in _PROFILE_COLUMNS.items()),
            *(strategy[column].label(f"s_{column}") for column in _STRATEGY_FIELDS),
        )
        .select_from(User)
        .outerjoin(EmotionalProfile, EmotionalProfile.user_id == User.id)
        .outerjoin(UserSupportStrategy, UserSupportStrategy.user_id == User.id)
        .where(User.platform == platform, User.external_id == external_id)
    )
    rows = [row._mapping for row in conn.execute(stmt)]
    if not rows:
        return SupportState(), None
    state = SupportState()
    if rows[0]["has_profile"] is not None:
        for name in _PROFILE_COLUMNS:
            setattr(state, name, rows[0][f"p_{name}"])
    for row in rows:
        if row["s_strategy"] is not None:
            state.strategies[row["s_strategy"]] = StrategyStats(
                row["s_successes"], row["s_failures"], row["s_uses"], row["s_updated_at"]
            )
    return state, int(rows[0]["user_row"])


class SupportStore:
    """Per-person support state over SQL, with an in-memory fallback and write-back."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cache: Cache,
        reads: Callable[[Callable[[Connection], Any]], Awaitable[Any]],
        *,
        max_people: int = 10_000,
        history_limit: int = 500,
        retry_s: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._cache = cache
        # Runs a blocking read on a connection off the loop (recall's reads: storage.sql.reads).
        self._reads = reads
        self.max_people = max_people
        self.history_limit = history_limit
        self.retry_s = retry_s
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._scopes: dict[str, Scope] = {}  # the scope of each dirty person, to write them back
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._error: str | None = None
        self._resting_until = 0.0

    # ------------------------------------------------------------------ state

    @property
    def pending(self) -> int:
        """Return how many people have changes not yet written to SQL."""
        return len(self._scopes)

    @property
    def error(self) -> str | None:
        """Return why SQL was last unreachable, or None when the last attempt worked."""
        return self._error

    async def load(self, scope: Scope) -> SupportState:
        """Return the person's state: from SQL when it answers, else what this process holds."""
        async with self._lock(scope.user_key):
            return (await self._current(scope)).copy()

    async def update(self, scope: Scope, change: Callable[[SupportState], None]) -> SupportState:
        """Apply ``change`` to the person's state and write it (kept and retried if SQL is down)."""
        await self.flush()
        async with self._lock(scope.user_key):
            state = await self._current(scope)
            if not state.loaded:
                raise SupportUnavailable()
            before = state.copy()
            change(state)
            entry = self._entries[scope.user_key]
            if any(getattr(before, name) != getattr(state, name) for name in _PROFILE_COLUMNS):
                entry.profile_dirty = True
            entry.dirty_strategies |= {
                name for name, stats in state.strategies.items() if before.strategies.get(name) != stats
            }
            await self._write(scope, entry)
            return state.copy()

    async def reset(self, scope: Scope) -> None:
        """Delete everything kept about the person's support; they are left opted out."""
        async with self._lock(scope.user_key):
            entry = _Entry(SupportState(opted_in=False), profile_dirty=True, wipe=True)
            self._remember(scope.user_key, entry)
            await self._write(scope, entry)
        await self._cache.delete_prefix(f"{INTERVENTION_PREFIX}{scope.user_key}:")
        await self.clear_pending(scope)

    async def history(self, scope: Scope, limit: int = 20) -> list[StrategyChange]:
        """Return the newest changes of the person's strategies, newest first (unwritten ones included)."""
        async with self._lock(scope.user_key):
            entry = self._entries.get(scope.user_key)
            queued = list(reversed(entry.state.changes)) if entry is not None else []
            if entry is not None and entry.wipe:
                return queued[:limit]
            try:
                async with UnitOfWork(self._sessions) as uow:
                    user = await uow.people.find_user(scope.platform, scope.user_id)
                    rows: Iterable[StrategyHistory] = (
                        []
                        if user is None
                        else await uow.session.scalars(
                            select(StrategyHistory)
                            .where(StrategyHistory.user_id == user.id)
                            .order_by(StrategyHistory.id.desc())
                            .limit(limit)
                        )
                    )
                    stored = [
                        StrategyChange(r.strategy, r.old_score, r.new_score, r.cause, r.created_at)
                        for r in rows
                    ]
            except Exception as exc:
                if not _outage(exc):
                    raise
                self._failed(exc)
                stored = []
            return (queued + stored)[:limit]

    async def flush(self) -> int:
        """Write back every person whose changes are held only in memory; return how many were written."""
        written = 0
        for key, scope in list(self._scopes.items()):
            if self._resting():
                break
            async with self._lock(key):
                entry = self._entries.get(key)
                if entry is not None and await self._write(scope, entry):
                    written += 1
        return written

    # ------------------------------------------------------------------ interventions (cache only)

    async def remember_intervention(
        self, scope: Scope, message_ids: Sequence[str], data: dict[str, Any], ttl_s: float
    ) -> None:
        """Note which approach Kindred took in reply to these messages, for reactions and feedback."""
        raw = json.dumps(data)
        for message_id in message_ids:
            await self._cache.set(f"{INTERVENTION_PREFIX}{scope.user_key}:{message_id}", raw, ttl_s=ttl_s)

    async def intervention(self, scope: Scope, message_id: str) -> dict[str, Any] | None:
        """Return the approach taken in reply to one of the person's messages, if still remembered."""
        raw = await self._cache.get(f"{INTERVENTION_PREFIX}{scope.user_key}:{message_id}")
        return None if raw is None else dict(json.loads(raw))

    async def set_pending(self, scope: Scope, data: dict[str, Any], ttl_s: float) -> None:
        """Remember the person's latest intervention, whose effect on their mood is still to be seen."""
        await self._cache.set(f"{PENDING_PREFIX}{scope.user_key}", json.dumps(data), ttl_s=ttl_s)

    async def pending_intervention(self, scope: Scope) -> dict[str, Any] | None:
        """Return the person's latest intervention, if any is remembered."""
        raw = await self._cache.get(f"{PENDING_PREFIX}{scope.user_key}")
        return None if raw is None else dict(json.loads(raw))

    async def clear_pending(self, scope: Scope) -> None:
        """Forget the person's latest intervention once its effect was judged."""
        await self._cache.delete(f"{PENDING_PREFIX}{scope.user_key}")

    async def first_reaction(self, scope: Scope, message_id: str, ttl_s: float) -> bool:
        """Return True the first time the person's reaction to a reply is counted."""
        key = f"{INTERVENTION_PREFIX}{scope.user_key}:{message_id}:reacted"
        return await self._cache.acquire_lock(key, ttl_s) is not None

    # ------------------------------------------------------------------ internals

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    def _resting(self) -> bool:
        # After a failure SQL is left alone for a moment, so an outage does not cost every call a timeout.
        return self._error is not None and time.monotonic() < self._resting_until

    def _failed(self, exc: BaseException) -> None:
        if self._error is None:
            log.warning("support store: SQL unreachable, working from memory: %s", type(exc).__name__)
        self._error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self._resting_until = time.monotonic() + self.retry_s

    def _ok(self) -> None:
        if self._error is not None:
            log.warning("support store: SQL is back")
        self._error = None

    def _remember(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        # Bounded: the least recently used clean entries go; dirty ones stay until written back.
        for old in list(self._entries):
            if len(self._entries) <= self.max_people:
                break
            if old not in self._scopes:
                del self._entries[old]

    async def _current(self, scope: Scope) -> SupportState:
        """Return the live state of the person (the caller holds their lock)."""
        key = scope.user_key
        entry = self._entries.get(key)
        if entry is not None and entry.dirty:
            # Unwritten changes are newer than SQL: write them first, and keep working from them.
            await self._write(scope, entry)
            if key in self._entries:
                return entry.state
            entry = None  # forgotten meanwhile: start again from SQL
        if self._resting():
            return entry.state if entry is not None else SupportState(loaded=False)
        try:
            state, user_row = await self._read(scope)
        except Exception as exc:
            if not _outage(exc):
                raise
            self._failed(exc)
            return entry.state if entry is not None else SupportState(loaded=False)
        self._ok()
        self._remember(key, _Entry(state, user_row=user_row))
        return state

    async def _read(self, scope: Scope) -> tuple[SupportState, int | None]:
        # Every turn of every person reads this (consent decides whether anything else happens), so it is
        # one statement in one hop to a reading thread, not a unit of work of three through the loop.
        return await self._reads(partial(_read_state, platform=scope.platform, external_id=scope.user_id))

    async def _write(self, scope: Scope, entry: _Entry) -> bool:
        """Write the entry's changes to SQL; on failure keep them for later. Return whether it was written."""
        key = scope.user_key
        if not entry.dirty:
            return True
        self._scopes[key] = scope
        if self._resting():
            return False
        state = entry.state
        now = self.clock()
        try:
            async with UnitOfWork(self._sessions) as uow:
                user = await uow.people.find_user(scope.platform, scope.user_id)
                if entry.user_row is not None and (user is None or user.id != entry.user_row):
                    # Forgotten (forget-me) since this state was read: writing it back would undo that.
                    self._entries.pop(key, None)
                    self._scopes.pop(key, None)
                    return True
                user_id = (
                    int(user.id)
                    if user is not None
                    else await uow.people.ensure_user(scope.platform, scope.user_id)
                )
                entry.user_row = user_id
                session = uow.session
                if entry.wipe:
                    for table in (StrategyHistory, UserSupportStrategy, EmotionalProfile):
                        await session.execute(delete(table).where(table.user_id == user_id))
                if entry.profile_dirty:
                    profile = await session.get(EmotionalProfile, user_id)
                    if profile is None:
                        profile = EmotionalProfile(user_id=user_id)
                        session.add(profile)
                    for name, column in _PROFILE_COLUMNS.items():
                        setattr(profile, column, copy.deepcopy(getattr(state, name)))
                    profile.updated_at = now
                for name in sorted(entry.dirty_strategies):
                    stats = state.strategies.get(name)
                    row = await session.get(UserSupportStrategy, (user_id, name))
                    if stats is None:
                        if row is not None:
                            await session.delete(row)
                        continue
                    if row is None:
                        row = UserSupportStrategy(user_id=user_id, strategy=name)
                        session.add(row)
                    row.successes, row.failures, row.uses = stats.successes, stats.failures, stats.uses
                    row.score = stats.score
                    row.updated_at = stats.updated_at or now
                for change in state.changes:
                    session.add(
                        StrategyHistory(
                            user_id=user_id,
                            strategy=change.strategy,
                            old_score=change.old_score,
                            new_score=change.new_score,
                            cause=change.cause,
                            created_at=change.at,
                        )
                    )
                if state.changes:
                    await session.flush()
                    await self._prune_history(session, user_id)
                await uow.commit()
        except Exception as exc:
            if not _outage(exc):
                raise
            self._failed(exc)
            return False
        self._ok()
        entry.profile_dirty = entry.wipe = False
        entry.dirty_strategies.clear()
        state.changes.clear()
        self._scopes.pop(key, None)
        return True

    async def _prune_history(self, session: AsyncSession, user_id: int) -> None:
        # The history is bounded per person: the oldest changes beyond the limit go.
        cutoff = await session.scalar(
            select(StrategyHistory.id)
            .where(StrategyHistory.user_id == user_id)
            .order_by(StrategyHistory.id.desc())
            .offset(self.history_limit)
            .limit(1)
        )
        if cutoff is not None:
            await session.execute(
                delete(StrategyHistory).where(
                    StrategyHistory.user_id == user_id, StrategyHistory.id <= cutoff
                )
            )
