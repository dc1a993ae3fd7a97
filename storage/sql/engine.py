"""Create the async engine for SQLite or PostgreSQL and wait (boundedly) for the database to answer."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
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
    # The driver's own implicit BEGIN is deferred; _begin_immediate below issues the BEGIN instead.
    dbapi_conn.isolation_level = None


def _begin_immediate(conn: Any) -> None:
    # A deferred transaction that reads and then writes cannot wait for another writer (SQLite refuses the
    # lock upgrade with "database is locked" at once, whatever the busy timeout). Taking the write lock at
    # BEGIN makes concurrent turns queue for it instead. Transactions here are short (one turn, one batch),
    # so serialising them costs little.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, settings: SQLSettings) -> AsyncEngine:
    """Build the engine for ``url`` with the pool and connection options of its backend."""
    if backend_name(url) == "sqlite":
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=settings.echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
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
