"""Backups on request: an online copy of the SQLite database, or the pg_dump command for PostgreSQL."""

from __future__ import annotations

import asyncio
import shlex
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.config import StorageSettings


@dataclass(frozen=True, slots=True)
class BackupResult:
    """Either the file written (SQLite) or the command an operator runs (PostgreSQL)."""

    path: Path | None = None
    command: str | None = None
    size_bytes: int = 0


def sqlite_file(url: str) -> Path | None:
    """Return the database file of an SQLite URL (None for other backends or an in-memory database)."""
    parsed = make_url(url)
    if not parsed.get_backend_name().startswith("sqlite") or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def copy_sqlite(source: Path, target: Path) -> int:
    """Copy a live SQLite database with its online backup API (consistent while written); return its size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # page by page, under SQLite's own locking: readers and the writer carry on
        finally:
            dst.close()
    finally:
        src.close()
    return target.stat().st_size


def pg_dump_command(url: str, when: datetime) -> str:
    """Return the pg_dump command for a PostgreSQL URL, with no password in it."""
    parsed = make_url(url)
    parts = ["pg_dump", "--format=custom"]
    if parsed.host:
        parts.append(f"--host={parsed.host}")
    if parsed.port:
        parts.append(f"--port={parsed.port}")
    if parsed.username:
        parts.append(f"--username={parsed.username}")
    parts.append(f"--file=kindred-{when:%Y%m%d-%H%M%S}.dump")
    parts.append(f"--dbname={parsed.database or ''}")
    return " ".join(shlex.quote(p) for p in parts)


async def backup(storage: StorageSettings, backup_dir: Path | None, when: datetime) -> BackupResult:
    """Back up the SQL database: a file for SQLite, a command for PostgreSQL (which pg_dump does best)."""
    url = storage.sql_url()
    source = sqlite_file(url)
    if source is None:
        return BackupResult(command=pg_dump_command(url, when))
    target = (backup_dir or storage.data_dir / "backups") / f"kindred-{when:%Y%m%d-%H%M%S}.db"
    size = await asyncio.to_thread(copy_sqlite, source, target)
    return BackupResult(path=target.resolve(), size_bytes=size)
