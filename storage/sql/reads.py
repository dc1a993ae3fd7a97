"""Reads that run several statements in one go: a blocking function of a connection, run off the loop.

Recall reads six or seven statements per search. Through aiosqlite each statement is several hand-offs
between the event loop and the connection's thread (execute, fetch, close), each a wake-up of the other
side; on SQLite the whole batch instead runs in one call on a thread of a blocking (pysqlite) engine on the
same file, one hand-off there and one back. WAL lets those reads run beside the writer. On PostgreSQL the
same function runs through ``AsyncConnection.run_sync`` (asyncpg has no blocking twin), so there is one way
to write the reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.sql.engine import sync_sqlite_engine

T = TypeVar("T")

# Concurrent recalls on SQLite: each holds a thread for a few milliseconds.
READ_THREADS = 4


class SqlReads:
    """Run a blocking function of a read connection (see the module docstring)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sync = sync_sqlite_engine(engine)
        self._threads = (
            ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="kindred-reads")
            if self._sync is not None
            else None
        )

    async def run(self, read: Callable[[Connection], T]) -> T:
        """Return ``read(connection)``, the connection given back before this returns."""
        if self._threads is None:
            async with self._engine.connect() as conn:
                return await conn.run_sync(read)
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._blocking, read)

    @property
    def engine(self) -> Engine:
        """The engine the reads' statements run on (for tests and instrumentation that watch them)."""
        return self._sync if self._sync is not None else self._engine.sync_engine

    def _blocking(self, read: Callable[[Connection], T]) -> T:
        assert self._sync is not None
        with self._sync.connect() as conn:
            return read(conn)

    async def close(self) -> None:
        """Let reads in flight finish, then close the blocking engine's connections."""
        if self._threads is not None:
            await asyncio.to_thread(self._threads.shutdown, wait=True)
        if self._sync is not None:
            self._sync.dispose()
