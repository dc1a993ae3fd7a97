"""Read statements run on SQLite's own cursor: recall's reads, which run on every reply.

Recall runs about seven small statements per search. Through SQLAlchemy each costs about 0.35 ms of CPU
before SQLite does anything (compiled-cache lookup, expanding ``IN`` lists, the execution context, a result
object and a type processor per cell), against 0.07 ms on the driver's cursor for the same 16-row statement
(docs/memory.md, "Seventh pass: latency"). So on SQLite those statements are SQL text run here: the text
and its expansion are built once per shape, and sqlite3 keeps each compiled statement in its per-connection
cache.
PostgreSQL keeps the SQLAlchemy path (asyncpg has no blocking cursor, and its statements are prepared).

The SQL is written with ``:name`` parameters; a list parameter is written ``IN :name`` and expanded here, as
SQLAlchemy's expanding parameters are. Datetimes go in and come out as the text SQLAlchemy stores on SQLite
(naive UTC, microseconds), aware UTC in Python, as ``UTCDateTime`` gives them.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from storage.sql.models import UTCDateTime

# An id no row has (ids start at 1): fills id lists up to a few fixed lengths, so that a recall's varying
# candidate counts give a handful of statement shapes, not one per count.
NO_ID = -1
SHAPES = 512
_UTC = UTCDateTime()
_SQLITE = sqlite_dialect()


def is_sqlite(conn: Connection) -> bool:
    """Return whether ``conn`` reads SQLite, whose statements run as SQL text here."""
    return conn.dialect.name == "sqlite"


def fetch(
    conn: Connection, sql: str, params: Mapping[str, Any], times: Sequence[int] = ()
) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the connection's sqlite3 cursor and return its rows as tuples, the columns at the
    positions in ``times`` turned into aware UTC datetimes."""
    flat: dict[str, Any] = {}
    lengths = []
    for name, value in params.items():
        if isinstance(value, list | tuple):
            lengths.append((name, len(value)))
            flat.update({f"{name}_{i}": item for i, item in enumerate(value)})
        elif isinstance(value, datetime):
            flat[name] = stored_time(value)
        else:
            flat[name] = value
    statement = _expanded(sql, tuple(lengths))
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):
        found = driver.execute(statement, flat).fetchall()
    else:
        # In-memory SQLite, read through aiosqlite inside ``run_sync``: the same text, through SQLAlchemy.
        found = [tuple(r) for r in conn.exec_driver_sql(statement, flat)]
    if not times:
        return found
    out = []
    for row in found:
        cells = list(row)
        for i in times:
            if cells[i] is not None:
                cells[i] = datetime.fromisoformat(cells[i]).replace(tzinfo=UTC)
        out.append(tuple(cells))
    return out


def stored_time(value: datetime) -> str:
    """Return an aware datetime as SQLAlchemy stores it on SQLite (naive UTC text), for comparisons in SQL."""
    naive = _UTC.process_bind_param(value, _SQLITE)  # refuses a naive datetime, as every other write does
    assert naive is not None
    return naive.isoformat(sep=" ", timespec="microseconds")


def padded(ids: Sequence[int]) -> list[int]:
    """Return ``ids`` filled with ``NO_ID`` up to the next power of two (at least 8)."""
    size = 8
    while size < len(ids):
        size *= 2
    return [*ids, *([NO_ID] * (size - len(ids)))]


@lru_cache(maxsize=SHAPES)
def _expanded(sql: str, lengths: tuple[tuple[str, int], ...]) -> str:
    for name, n in lengths:
        if n == 0:
            raise ValueError(f"the list parameter {name!r} is empty")
        items = ", ".join(f":{name}_{i}" for i in range(n))
        sql = re.sub(rf"\bIN :{name}\b", f"IN ({items})", sql)
    return sql
