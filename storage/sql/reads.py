"""Reads that run several statements in one go: a blocking function of a connection, run off the loop.

Small background writes go the same way (``write``), on a thread and an engine of their own: through
aiosqlite every statement of a transaction is a hop back to the event loop, and with the loop busy with
replies a three-statement write held SQLite's write lock for 8 ms at the median and up to 90 ms, while
each reply's own INSERT waited for it. In one thread call the lock is held for the statements alone. They
wait for the lock in SQLite's busy handler, not by polling as the reply's writers do: a poll wakes every
millisecond for the interpreter lock, and with another process writing, those wake-ups slowed every reply.

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
    """Run a blocking function of a read connection, or of a small background write (module docstring)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sync = sync_sqlite_engine(engine)
        self._writes = sync_sqlite_engine(engine, reply_path=False)
        self._threads = self._writer = None
        if self._sync is not None:
            self._threads = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="kindred-reads")
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kindred-background-writes")

    async def run(self, read: Callable[[Connection], T]) -> T:
        """Return ``read(connection)``, the connection given back before this returns."""
        if self._threads is None:
            async with self._engine.connect() as conn:
                return await conn.run_sync(read)
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._blocking, read)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Return ``work(connection)``, committed (rolled back if it raises): on SQLite in one thread call."""
        if self._writer is None:
            async with self._engine.begin() as conn:
                return await conn.run_sync(work)
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._blocking_write, work)

    @property
    def engine(self) -> Engine:
        """The engine the reads' statements run on (for tests and instrumentation that watch them)."""
        return self._sync if self._sync is not None else self._engine.sync_engine

    def _blocking(self, read: Callable[[Connection], T]) -> T:
        assert self._sync is not None
        with self._sync.connect() as conn:
            return read(conn)

    def _blocking_write(self, work: Callable[[Connection], T]) -> T:
        assert self._writes is not None
        with self._writes.begin() as conn:
            return work(conn)

    async def close(self) -> None:
        """Let reads and writes in flight finish, then close the blocking engines' connections."""
        for threads in (self._threads, self._writer):
            if threads is not None:
                await asyncio.to_thread(threads.shutdown, wait=True)
        for sync in (self._sync, self._writes):
            if sync is not None:
                sync.dispose()
