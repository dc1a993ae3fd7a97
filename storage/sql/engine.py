"""Create the async engine for SQLite or PostgreSQL and wait (boundedly) for the database to answer."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.config import SQLSettings

log = logging.getLogger(__name__)


class SQLUnavailable(Exception):
    """The SQL database cannot be reached."""


def backend_name(url: str) -> str:
    """Return "sqlite" or "postgresql" for an SQLAlchemy URL."""
    return make_url(url).get_backend_name()


def redacted(url: str) -> str:
    """Return the URL with any password hidden, for logs and doctor output."""
    return make_url(url).render_as_string(hide_password=True)


# How long an SQLite transaction waits for another to finish before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; NORMAL sync is durable across process crashes in WAL mode,
    # and foreign keys are off by default in SQLite.
    cursor = dbapi_conn.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
        f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    ):
        cursor.execute(pragma)
    cursor.close()
    # The driver's own implicit BEGIN is deferred; _lock_before_write below issues the BEGIN instead.
    dbapi_conn.isolation_level = None


# Statements that write (or open a savepoint, which would start a deferred transaction).
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|SAVEPOINT)\b", re.IGNORECASE)
# A statement with common table expressions writes only if one of its parts does. Recall's full-text search
# is one read-only WITH ...: taking the write lock for it put every reply's recall in the queue behind the
# background writers, and held every writer up while it ran.
_CTE = re.compile(r"\s*WITH\b", re.IGNORECASE)
_CTE_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def is_write(statement: str) -> bool:
    """Return whether an SQL statement may write, so that it must hold SQLite's write lock."""
    if _WRITES.match(statement):
        return True
    return bool(_CTE.match(statement) and _CTE_WRITES.search(statement))


def _lock_before_write(
    conn: Any, cursor: Any, statement: str, _params: Any, _context: Any, _executemany: bool
) -> None:
    # A deferred transaction that reads and then writes cannot wait for another writer (SQLite refuses the
    # lock upgrade with "database is locked" at once, whatever the busy timeout), so a transaction takes the
    # write lock with BEGIN IMMEDIATE, and concurrent writers queue for it. It does so at its first write,
    # not at its start: reads before it run in autocommit, each on the newest committed data (what
    # PostgreSQL's default READ COMMITTED gives too). Taking the lock at BEGIN made every read-only unit of
    # work (recall, settings, profiles) queue behind every writer and hold up every other one: on the reply
    # benchmark half a turn's time was spent waiting in BEGIN IMMEDIATE.
    if _opens_a_write(conn, statement):
        cursor.execute("BEGIN IMMEDIATE")


def _opens_a_write(conn: Any, statement: str) -> bool:
    # A write outside a transaction: the moment to take the lock.
    return is_write(statement) and not conn.connection.driver_connection.in_transaction


# How often a reply-path writer tries for the write lock while another connection holds it.
LOCK_POLL_S = 0.001


def _poll_for_write_lock(
    conn: Any, cursor: Any, statement: str, _params: Any, _context: Any, _executemany: bool
) -> None:
    # The reply path's writers (the turn writer, on a thread of its own) wait for the lock by trying every
    # millisecond rather than in SQLite's busy handler, which sleeps longer the longer it has waited (1, 2,
    # 5 ... 50, then 100 ms a try) and so, behind a stream of short background transactions (reflection,
    # the job outbox, use counts), kept a turn waiting a tenth of a second or more for a lock that was free
    # most of that time. The background writers keep the busy handler, so the reply comes first. Only for
    # blocking engines: the sleep would stall an event loop.
    if not _opens_a_write(conn, statement):
        return
    cursor.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(LOCK_POLL_S)
    finally:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def sqlite_listeners(engine: Engine, *, poll_lock: bool = False) -> None:
    """Give an SQLite engine Kindred's pragmas and write locking (every engine on the file needs both);
    ``poll_lock`` for a blocking engine on the reply path (see _poll_for_write_lock)."""
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "before_cursor_execute", _poll_for_write_lock if poll_lock else _lock_before_write)


def sync_sqlite_engine(engine: AsyncEngine, *, reply_path: bool = True) -> Engine | None:
    """Return a blocking (pysqlite) engine on the same SQLite file, or None for PostgreSQL and in-memory
    SQLite (an in-memory database is per connection). For work that runs a batch of statements in one
    thread hop: through aiosqlite every statement is several hops between the loop and its thread.
    ``reply_path`` writers poll for the write lock (see _poll_for_write_lock); others wait in SQLite's
    busy handler, which holds no interpreter lock while it sleeps."""
    url = engine.url
    if engine.dialect.name != "sqlite" or not url.database or url.database == ":memory:":
        return None
    sync = create_engine(make_url(str(url)).set(drivername="sqlite+pysqlite"))
    sqlite_listeners(sync, poll_lock=reply_path)
    return sync


def make_engine(url: str, settings: SQLSettings) -> AsyncEngine:
    """Build the engine for ``url`` with the pool and connection options of its backend."""
    if backend_name(url) == "sqlite":
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=settings.echo)
        sqlite_listeners(engine.sync_engine)
        return engine
    engine = create_async_engine(
        url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_recycle=1800,
        connect_args={"timeout": 5, "command_timeout": 30},
    )
    _ping_idle_connections(engine)
    return engine


# A connection used within this many seconds is trusted without a ping; an older one may have been cut by
# a server restart or a firewall, so it is checked before use.
PING_AFTER_IDLE_S = 10.0


def _ping_idle_connections(engine: AsyncEngine) -> None:
    # pool_pre_ping would cost a round trip (three statements with asyncpg) on every checkout, a third of a
    # turn's write time; pinging only idle connections keeps restarts harmless for the common case.
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _used(dbapi_conn: Any, record: Any) -> None:
        record.info["used_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _check(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get("used_at", 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            alive = dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("idle connection failed its ping") from exc
        if not alive:
            raise DisconnectionError("idle connection failed its ping")


async def ping(engine: AsyncEngine) -> float:
    """Return the round trip of ``SELECT 1`` in milliseconds, or raise SQLUnavailable."""
    start = time.perf_counter()
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError, OSError) as exc:
        raise SQLUnavailable(_reason(exc)) from exc
    return (time.perf_counter() - start) * 1000


async def wait_until_ready(engine: AsyncEngine, retries: int, delay_s: float) -> None:
    """Ping the database, retrying with backoff; raise SQLUnavailable after ``retries`` more attempts."""
    attempt = 0
    while True:
        try:
            await ping(engine)
            return
        except SQLUnavailable as exc:
            if attempt >= retries:
                raise SQLUnavailable(
                    f"the SQL database at {redacted(str(engine.url))} did not answer after "
                    f"{attempt + 1} attempts: {exc}"
                ) from exc
            wait = delay_s * (2 ** min(attempt, 4))
            log.warning(
                "SQL database not reachable (attempt %s of %s); retrying in %.1fs",
                attempt + 1,
                retries + 1,
                wait,
            )
            attempt += 1
            await asyncio.sleep(wait)


def _reason(exc: BaseException) -> str:
    # Driver messages can be long and nested; the innermost line says what happened.
    origin = getattr(exc, "orig", None) or exc
    return str(origin).strip().splitlines()[0] if str(origin).strip() else type(origin).__name__


T = TypeVar("T")


async def retry_while_unavailable(
    work: Callable[[], Awaitable[T]], what: str, *, for_s: float, first_s: float = 0.5, max_s: float = 10.0
) -> T:
    """Run ``work`` and, while the database cannot be reached, run it again with growing pauses for up to
    ``for_s`` seconds; anything else (and the last failure) is raised. ``work`` must be safe to repeat."""
    delay, waited = first_s, 0.0
    while True:
        try:
            return await work()
        except Exception as exc:
            if not is_unavailable(exc) or waited >= for_s:
                raise
            if waited == 0.0:
                log.warning("cannot %s yet (%s); retrying", what, type(exc).__name__)
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, max_s)


def is_unavailable(exc: BaseException) -> bool:
    """Return whether ``exc`` (or what caused it) says the database could not be reached, not that the work
    itself was wrong: worth doing again once the server is back."""
    seen: BaseException | None = exc
    while seen is not None:
        # A pool with no free connection within its timeout is as unreachable, for now, as a stopped server.
        if isinstance(seen, (SQLUnavailable, OperationalError, InterfaceError, OSError, PoolTimeout)):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__
    return False
