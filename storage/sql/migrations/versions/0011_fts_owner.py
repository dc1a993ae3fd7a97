"""SQLite full text that knows whose each row is: person (and place) columns in the FTS5 indexes.

Recall searches one person's rows, but FTS5's index spans everyone's: a word's posting list held every
person's matches, and each search walked it to the end looking for this person's newest ones. At 1M
memories over 10,000 people that was most of a search (recall p50 92 ms). With the owner's id indexed as
a column of its own, the MATCH is ``user_id : 42 AND {speaker text} : (...)``, which FTS5 answers by
seeking through the person's short posting list (30 ms -> 0.7 ms per common word at 400,000 rows in a
direct test). Turns also index their place (``scope_id``) for recall of a channel's public turns, when an
operator turns that on. The new columns get no weight in ``bm25``. PostgreSQL is unchanged: its planner
combines the GIN index with the person's B-tree index.

Rebuilding both indexes reads every person-authored turn and every memory once.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FTS5_OPTIONS = "tokenize = 'porter unicode61 remove_diacritics 2'"


def _statements(turn_columns: tuple[str, ...], memory_columns: tuple[str, ...]) -> list[str]:
    """Return the statements that build both FTS5 tables, their triggers and their contents."""
    made: list[str] = []
    for table, fts, columns, only in (
        ("turns", "turns_fts", turn_columns, "role = 'user'"),
        ("memories", "memories_fts", memory_columns, ""),
    ):
        names = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        when_new = f"WHEN new.{only} " if only else ""
        when_old = f"WHEN old.{only} " if only else ""
        where = f" WHERE {only}" if only else ""
        remove = f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old})"
        add = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new})"
        made += [
            f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', content_rowid='id', "
            f"{FTS5_OPTIONS})",
            f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} {when_new}BEGIN {add}; END",
            f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} {when_old}BEGIN {remove}; END",
            f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {names} ON {table} {when_old}"
            f"BEGIN {remove}; {add}; END",
            f"INSERT INTO {fts}(rowid, {names}) SELECT id, {names} FROM {table}{where}",
        ]
    return made


DROP = [
    f"DROP {kind} IF EXISTS {name}"
    for fts in ("turns_fts", "memories_fts")
    for kind, name in (
        ("TRIGGER", f"{fts}_update"),
        ("TRIGGER", f"{fts}_delete"),
        ("TRIGGER", f"{fts}_insert"),
        ("TABLE", fts),
    )
]
UP = DROP + _statements(("speaker", "text", "user_id", "scope_id"), ("speaker", "text", "user_id"))
DOWN = DROP + _statements(("speaker", "text"), ("speaker", "text"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in UP:
            op.execute(sa.text(statement))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in DOWN:
            op.execute(sa.text(statement))
