"""Record a turn with one prebuilt statement: one round trip on PostgreSQL, one thread hop on SQLite.

Recording a turn is the hottest write: every message pays it before the reply. Through an ORM session on
aiosqlite it cost nine hops to the driver's thread (cursor, BEGIN IMMEDIATE, execute, fetch, close, commit,
reset), a statement rebuilt on every call, and a cache round trip to ask whether the person paused
remembering. Here the statement is built once per dialect and asks the pause question itself, in SQL, the
source of truth. On PostgreSQL it runs alone in autocommit (one round trip, atomic as any single
statement); on SQLite a writer thread with its own connection runs BEGIN IMMEDIATE, the insert and the
commit in one hop, taking the same write lock as every other transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, case, create_engine, exists, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert

from storage.sql.engine import sqlite_listeners
from storage.sql.models import Turn
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


def turn_params(values: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Return the statement's parameters for a turn's column values and its meta."""
    params = {f"t_{name}": values[name] for name in TURN_COLUMNS}
    params["t_meta"] = meta
    params["t_meta_paused"] = {**meta, "paused": True}
    return params


def inserted(row: Sequence[Any] | None) -> tuple[int, dict[str, Any]] | None:
    """Return (id, stored meta) from the statement's RETURNING row; None when nothing was inserted."""
    return None if row is None else (int(row[0]), dict(row[1] or {}))


class TurnWriter:
    """Insert turns outside any unit of work, as cheaply as the backend allows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statement = turn_insert(engine.dialect.name)
        self._engine = engine
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        url = engine.url
        if engine.dialect.name == "sqlite":
            if url.database and url.database != ":memory:":  # an in-memory database is per connection
                self._sync = create_engine(make_url(str(url)).set(drivername="sqlite+pysqlite"))
                sqlite_listeners(self._sync)
                self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kindred-turns")
        else:
            self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def insert(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """Insert one turn; return (id, stored meta), or None when its message was recorded already."""
        if self._sync is not None:
            assert self._thread is not None
            return await asyncio.get_running_loop().run_in_executor(self._thread, self._insert_sync, params)
        if self._engine.dialect.name == "sqlite":  # in-memory SQLite: the pool's own connection
            async with self._engine.begin() as conn:
                return await self._insert_async(conn, params)
        async with self._autocommit.connect() as conn:
            return await self._insert_async(conn, params)

    async def _insert_async(
        self, conn: AsyncConnection, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]] | None:
        return inserted((await conn.execute(self.statement, params)).first())

    def _insert_sync(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        assert self._sync is not None
        with self._sync.begin() as conn:
            row = conn.execute(self.statement, params).first()
        return inserted(row)

    async def close(self) -> None:
        """Let a write in flight finish, then close the writer's connection."""
        if self._thread is not None:
            await asyncio.to_thread(self._thread.shutdown, wait=True)
        if self._sync is not None:
            self._sync.dispose()
