"""storage.sql.bare: SQL text on SQLite's own cursor reads and compares what SQLAlchemy stores, the same way
on the blocking driver and (in-memory databases) through aiosqlite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert
from sqlalchemy.ext.asyncio import create_async_engine

from storage.sql import bare
from storage.sql.models import UTCDateTime

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String),
    Column("at", UTCDateTime),
)
T0 = datetime(2023, 5, 8, 13, 56, 0, 123456, tzinfo=UTC)
ROWS = [
    {"id": 1, "name": "a", "at": T0},
    {"id": 2, "name": "b", "at": T0 + timedelta(hours=1)},
    {"id": 3, "name": "c", "at": None},
]
SQL = "SELECT id, name, at FROM things WHERE id IN :ids AND (at IS NULL OR at < :before) ORDER BY id"


def test_rows_come_back_as_tuples_with_aware_times_and_lists_expanded(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+pysqlite:///{tmp_path / 'b.db'}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(things), ROWS)
    with engine.connect() as conn:
        # A bound time in another zone is compared as the UTC text SQLAlchemy wrote.
        before = (T0 + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=-7)))
        found = bare.fetch(conn, SQL, {"ids": bare.padded([1, 2, 3]), "before": before}, times=[2])
        assert found == [(1, "a", T0), (3, "c", None)]
        # The same statement with another list length is a shape of its own.
        assert bare.fetch(conn, SQL, {"ids": [2], "before": T0 + timedelta(days=1)}, times=[2]) == [
            (2, "b", T0 + timedelta(hours=1))
        ]
    engine.dispose()


async def test_an_in_memory_database_reads_the_same_through_aiosqlite() -> None:
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(things), ROWS)
        found = await conn.run_sync(
            lambda c: bare.fetch(c, SQL, {"ids": [1, 2, 3], "before": T0 + timedelta(days=1)}, times=[2])
        )
    assert found == [(1, "a", T0), (2, "b", T0 + timedelta(hours=1)), (3, "c", None)]
    await engine.dispose()


def test_ids_are_padded_to_few_lengths_with_an_id_no_row_has() -> None:
    assert bare.padded([5]) == [5] + [bare.NO_ID] * 7
    assert len(bare.padded(list(range(1, 9)))) == 8
    assert len(bare.padded(list(range(1, 10)))) == 16
    assert len(bare.padded(list(range(1, 101)))) == 128


def test_bad_parameters_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        bare.stored_time(datetime(2023, 5, 8))
    engine = create_engine("sqlite+pysqlite://")
    with engine.connect() as conn, pytest.raises(ValueError, match="'ids' is empty"):
        bare.fetch(conn, "SELECT 1 WHERE 1 IN :ids", {"ids": []})
