"""/admin backup: an online SQLite copy, and a pg_dump command that never carries the password."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from cogs.admin.backup import backup, pg_dump_command, sqlite_file
from storage.config import SQLSettings, StorageSettings

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_pg_dump_command_names_host_port_user_and_db_but_no_password() -> None:
    command = pg_dump_command("postgresql+asyncpg://kindred:s3cret@db.local:6543/kin", WHEN)
    assert "s3cret" not in command
    for part in ("--host=db.local", "--port=6543", "--username=kindred", "--dbname=kin", "--format=custom"):
        assert part in command
    assert "kindred-20260102-030405.dump" in command


def test_sqlite_file_is_found_only_for_sqlite_urls(tmp_path: Path) -> None:
    assert sqlite_file(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}") == tmp_path / "k.db"
    assert sqlite_file("postgresql://u@h/db") is None
    assert sqlite_file("sqlite+aiosqlite:///:memory:") is None


async def test_sqlite_backup_copies_a_database_that_is_open_for_writing(tmp_path: Path) -> None:
    db = tmp_path / "data" / "kindred.db"
    db.parent.mkdir()
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(500)])
    writer.commit()
    writer.execute("INSERT INTO t VALUES (-1)")  # uncommitted: must not be in the copy
    try:
        settings = StorageSettings(data_dir=tmp_path / "data", sql=SQLSettings(url=f"sqlite:///{db}"))
        result = await backup(settings, None, WHEN)
    finally:
        writer.rollback()
        writer.close()
    assert result.path is not None and result.path.parent == (tmp_path / "data" / "backups").resolve()
    copy = sqlite3.connect(result.path)
    try:
        assert copy.execute("SELECT count(*), min(x) FROM t").fetchone() == (500, 0)
    finally:
        copy.close()
    assert result.command is None and result.size_bytes > 0


async def test_postgres_backup_returns_the_command_and_writes_nothing(tmp_path: Path) -> None:
    settings = StorageSettings(data_dir=tmp_path, sql=SQLSettings(url="postgresql://k:pw@h/db"))
    result = await backup(settings, None, WHEN)
    assert result.path is None and result.command is not None and "pw" not in result.command
    assert not (tmp_path / "backups").exists()
