"""Alembic migrations make the schema on SQLite and PostgreSQL, and match the models exactly."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage.config import SQLSettings
from storage.recall.lexical import include_name
from storage.sql import migrate
from storage.sql.engine import make_engine
from storage.sql.models import Base

TABLES = {"app_meta", "users", "scopes", "conversations", "turns", "memories", "job_outbox"}


async def test_upgrade_creates_every_table_and_records_head(sql_url: str) -> None:
    engine = make_engine(sql_url, SQLSettings())
    try:
        assert await migrate.current_revision(engine) is None
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert tables >= TABLES
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


async def test_upgrade_twice_is_harmless(sql_url: str) -> None:
    engine = make_engine(sql_url, SQLSettings())
    try:
        await migrate.upgrade(engine)
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


async def test_downgrade_to_base_removes_the_schema(sql_url: str) -> None:
    engine = make_engine(sql_url, SQLSettings())
    try:
        await migrate.upgrade(engine)
        await migrate.downgrade(engine, "base")
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert not (TABLES & tables)
    finally:
        await engine.dispose()


async def test_migrations_match_the_models(sql_url: str) -> None:
    engine = make_engine(sql_url, SQLSettings())

    def diff(conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        return list(compare_metadata(ctx, Base.metadata))

    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()
