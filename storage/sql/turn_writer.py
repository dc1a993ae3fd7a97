"""Record a turn with one prebuilt statement: one round trip on PostgreSQL, one thread hop on SQLite.

Recording a turn is the hottest write: every message pays it before the reply. Through an ORM session on
aiosqlite it cost nine hops to the driver's thread (cursor, BEGIN IMMEDIATE, execute, fetch, close, commit,
reset), a statement rebuilt on every call, and a cache round trip to ask whether the person paused
remembering. Here the statement is built once per dialect and asks the pause question itself, in SQL, the
source of truth. On PostgreSQL it runs alone in autocommit (one round trip, atomic as any single
statement); on SQLite a writer thread with its own connection runs BEGIN IMMEDIATE, the insert and the
commit in one hop, taking the same write lock as every other transaction.

The duplicate check every incoming message makes first (was this message recorded already?) is the same
kind of hot path and goes the same way: one prebuilt SELECT, one hop. So does the touch of the person's
session that a turn makes once a minute (for idle detection): the writer runs it just before the insert,
in the same hop. Through a unit of work on aiosqlite it was three hops holding SQLite's write lock, each a
wait for a busy event loop: 9 ms at the median and up to 95 ms under load, every other turn's INSERT
waiting behind it (docs/performance.md, "Session 8").
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Select, Table, Update, bindparam, case, exists, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert

from storage.handoff import settle_soon
from storage.sql.engine import sync_sqlite_engine
from storage.sql.models import Conversation, Turn
from storage.sql.models_memory import MemoryPreference

# The columns a caller gives; ``meta`` is chosen in SQL between the given one and the same marked paused.
TURN_COLUMNS = (
    "conversation_id",
    "user_id",
    "scope_id",
    "realm",
    "role",
    "speaker",
    "text",
    "message_id",
    "created_at",
)


def turn_insert(dialect: str) -> Insert:
    """Build the INSERT .. ON CONFLICT DO NOTHING .. RETURNING id, meta for one SQL dialect.

    Parameters are ``t_<column>`` for TURN_COLUMNS plus ``t_meta`` and ``t_meta_paused``: the row gets the
    second when the person has paused remembering (memory_preferences.paused).
    """
    table = cast(Table, Turn.__table__)
    meta_type = table.c.meta.type
    params = {name: bindparam(f"t_{name}", type_=table.c[name].type) for name in TURN_COLUMNS}
    paused = exists().where(
        MemoryPreference.user_id == bindparam("t_user_id", type_=table.c.user_id.type),
        MemoryPreference.paused.is_(true()),
    )
    meta = case(
        (paused, bindparam("t_meta_paused", type_=meta_type)), else_=bindparam("t_meta", type_=meta_type)
    )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .values(**params, meta=meta)
        .on_conflict_do_nothing(index_elements=["user_id", "message_id", "role"])
        .returning(table.c.id, table.c.meta)
    )


def turn_seen() -> Select[tuple[int]]:
    """Build the SELECT of a turn by its conflict key: ``s_user_id``, ``s_message_id`` and ``s_role``."""
    table = cast(Table, Turn.__table__)
    return (
        select(table.c.id)
        .where(
            table.c.user_id == bindparam("s_user_id", type_=table.c.user_id.type),
            table.c.message_id == bindparam("s_message_id", type_=table.c.message_id.type),
            table.c.role == bindparam("s_role", type_=table.c.role.type),
        )
        .limit(1)
    )


def conversation_touch() -> Update:
    """Build the UPDATE recording activity on an open session (``c_id``) at ``c_now`` (never moving it
    back); it matches no row once the session is closed."""
    now = bindparam("c_now", type_=cast(Table, Conversation.__table__).c.last_active_at.type)
    later = case((Conversation.last_active_at < now, now), else_=Conversation.last_active_at)
    return (
        update(Conversation)
        .where(Conversation.id == bindparam("c_id"), Conversation.closed_at.is_(None))
        .values(last_active_at=later)
    )


def turn_params(values: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Return the statement's parameters for a turn's column values and its meta."""
    params = {f"t_{name}": values[name] for name in TURN_COLUMNS}
    params["t_meta"] = meta
    params["t_meta_paused"] = {**meta, "paused": True}
    return params


def inserted(row: Sequence[Any] | None) -> tuple[int, dict[str, Any]] | None:
    """Return (id, stored meta) from the statement's RETURNING row; None when nothing was inserted."""
    return None if row is None else (int(row[0]), dict(row[1] or {}))


Inserted = tuple[int, dict[str, Any]] | None


class SessionClosed:
    """What ``TurnWriter.insert`` returns, writing nothing, when the session it was to touch was closed."""


SESSION_CLOSED = SessionClosed()
Written = Inserted | SessionClosed


class TurnWriter:
    """Insert turns outside any unit of work, as cheaply as the backend allows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statement = turn_insert(engine.dialect.name)
        self._touch = conversation_touch()
        self._seen = turn_seen()
        self._engine = engine
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None
        # Turns waiting for the writer thread, and whether a drain of them is scheduled there.
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[Written]]] = []
        self._draining = False
        self._guard = threading.Lock()
        if engine.dialect.name == "sqlite":
            self._sync = sync_sqlite_engine(engine)
            if self._sync is not None:
                self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kindred-turns")
                # Reads get a thread of their own: in WAL they never wait for the write lock, so they must
                # not queue behind inserts that do.
                self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kindred-turn-reads")
        else:
            self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def insert(self, params: dict[str, Any], touch: tuple[int, datetime] | None = None) -> Written:
        """Insert one turn; return (id, stored meta), or None when its message was recorded already.

        ``touch``: (session id, time) to record activity on first; SESSION_CLOSED, with nothing written, when
        that session has been closed.
        """
        if touch is not None:
            params = {**params, "c_id": touch[0], "c_now": touch[1]}
        if self._sync is not None:
            return await self._insert_batched(params)
        if self._engine.dialect.name == "sqlite" or touch is not None:
            # In-memory SQLite: the pool's own connection. A touch and its insert: one transaction.
            async with self._engine.begin() as conn:
                return await self._insert_async(conn, params)
        async with self._autocommit.connect() as conn:
            return await self._insert_async(conn, params)

    async def recorded(self, user_id: int, message_id: str, role: str) -> bool:
        """Return whether a turn of this person's platform message is in SQL (the duplicate check)."""
        params = {"s_user_id": user_id, "s_message_id": message_id, "s_role": role}
        if self._sync is not None:
            assert self._reader is not None
            return await asyncio.get_running_loop().run_in_executor(self._reader, self._seen_sync, params)
        async with self._read_connection() as conn:
            return (await conn.execute(self._seen, params)).first() is not None

    def _read_connection(self) -> AbstractAsyncContextManager[AsyncConnection]:
        # A lone SELECT needs no transaction of its own: autocommit on PostgreSQL saves the BEGIN and COMMIT.
        if self._engine.dialect.name == "sqlite":
            return self._engine.connect()
        return self._autocommit.connect()

    def _seen_sync(self, params: dict[str, Any]) -> bool:
        assert self._sync is not None
        with self._sync.connect() as conn:
            return conn.execute(self._seen, params).first() is not None

    async def _insert_async(self, conn: AsyncConnection, params: dict[str, Any]) -> Written:
        if "c_id" in params and not (await conn.execute(self._touch, params)).rowcount:
            return SESSION_CLOSED
        return inserted((await conn.execute(self.statement, params)).first())

    def _write(self, conn: Connection, params: dict[str, Any]) -> Written:
        if "c_id" in params and not conn.execute(self._touch, params).rowcount:
            return SESSION_CLOSED
        return inserted(conn.execute(self.statement, params).first())

    # SQLite file: group commit. Every transaction on the file queues for one write lock, and a writer that
    # finds it taken sleeps in SQLite's busy handler (up to 100 ms a try). With a lock round per turn, 200
    # simultaneous conversations kept turns waiting for seconds; the writer thread now takes every turn
    # waiting when it gets to them, in one transaction, so a burst costs one lock round instead of hundreds.

    async def _insert_batched(self, params: dict[str, Any]) -> Written:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Written] = loop.create_future()
        with self._guard:
            self._waiting.append((params, future))
            start, self._draining = not self._draining, True
        if start:
            assert self._thread is not None
            try:
                self._thread.submit(self._drain, loop)
            except RuntimeError:  # closed: nothing else can have joined the batch in between
                with self._guard:
                    self._waiting.clear()
                    self._draining = False
                raise
        return await future

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while True:
                with self._guard:
                    batch, self._waiting = self._waiting, []
                    if not batch:
                        self._draining = False
                        return
                results = self._insert_all([params for params, _ in batch])
                for (_, future), result in zip(batch, results, strict=True):
                    settle_soon(loop, future, result)  # a cancelled wait leaves the turn written all the same
        except BaseException:
            with self._guard:  # whatever stopped this drain, a later insert starts one of its own
                self._draining = False
            raise

    def _insert_all(self, batch: list[dict[str, Any]]) -> list[Written | BaseException]:
        assert self._sync is not None
        try:
            with self._sync.begin() as conn:
                return [self._write(conn, params) for params in batch]
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
        # One turn that cannot be written must not fail the others that shared its transaction.
        return [one for params in batch for one in self._insert_all([params])]

    async def close(self) -> None:
        """Let writes in flight finish, then close the writer's connections."""
        for thread in (self._thread, self._reader):
            if thread is not None:
                await asyncio.to_thread(thread.shutdown, wait=True)
        if self._sync is not None:
            self._sync.dispose()
