"""SQLite's write lock is taken by statements that write, and only by them (storage/sql/engine.py)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from storage.sql.engine import SQLITE_BUSY_TIMEOUT_MS, is_write, sqlite_listeners


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("INSERT INTO t VALUES (1)", True),
        ("  update t SET a = 1", True),
        ("DELETE FROM t", True),
        ("SAVEPOINT sa_1", True),
        ("CREATE TABLE u (a)", True),
        ("SELECT a FROM t", False),
        ("WITH p AS MATERIALIZED (SELECT a FROM t) SELECT a FROM p", False),
        ("WITH p AS (SELECT id, updated_at FROM t) SELECT id FROM p", False),  # a column name is no write
        ("WITH due AS (SELECT id FROM t) UPDATE t SET a = 1 WHERE id IN (SELECT id FROM due)", True),
        ("with x as (select 1) insert into t select * from x", True),
    ],
)
def test_what_counts_as_a_write(statement: str, writes: bool) -> None:
    assert is_write(statement) is writes


def test_a_read_with_common_table_expressions_runs_while_another_connection_writes(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER)")
    holder.execute("INSERT INTO t (a) VALUES (1)")
    engine = create_engine(f"sqlite:///{path}")
    sqlite_listeners(engine)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock, as the background worker may
        holder.execute("INSERT INTO t (a) VALUES (2)")
        with engine.connect() as conn:
            found = conn.execute(
                text("WITH p AS MATERIALIZED (SELECT a FROM t) SELECT sum(a) FROM p")
            ).scalar()
            assert found == 1  # the committed row only, read without waiting for the writer
            assert not conn.connection.driver_connection.in_transaction
        holder.execute("COMMIT")
    finally:
        engine.dispose()
        holder.close()


def _held_lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, a INTEGER)")
    holder.execute("BEGIN IMMEDIATE")  # a background writer in the middle of its transaction
    holder.execute("INSERT INTO t (a) VALUES (1)")
    return holder


def test_a_reply_path_writer_gets_the_lock_once_it_is_free_and_keeps_its_busy_timeout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "k.db"
    holder = _held_lock(path)
    engine = create_engine(f"sqlite:///{path}")
    sqlite_listeners(engine, poll_lock=True)
    release = threading.Timer(0.2, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (a) VALUES (2)"))  # waits for the holder, then writes
        with engine.connect() as conn:
            assert conn.execute(text("SELECT a FROM t ORDER BY id")).scalars().all() == [1, 2]
            # The polling turned SQLite's own wait off only while it tried for the lock.
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS
    finally:
        release.join()
        engine.dispose()
        holder.close()


def test_a_reply_path_writer_gives_up_after_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("storage.sql.engine.SQLITE_BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "k.db"
    holder = _held_lock(path)
    engine = create_engine(f"sqlite:///{path}")
    sqlite_listeners(engine, poll_lock=True)
    try:
        with pytest.raises(OperationalError, match="locked"), engine.begin() as conn:
            conn.execute(text("INSERT INTO t (a) VALUES (2)"))
        holder.execute("COMMIT")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1  # nothing half-written
    finally:
        engine.dispose()
        holder.close()
