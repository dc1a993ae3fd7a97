"""Lexical recall: full-text indexes over turns and memories, and turns by place for channel recall.

SQLite gets external-content FTS5 tables kept in sync by triggers; PostgreSQL gets GIN expression indexes
(storage/recall/lexical.py queries the same expression). Only person-authored turns are indexed on either
backend: recall never returns Kindred's own replies.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Migration 0010 stores this same document in a column and moves the indexes onto it.
PG_DOCUMENT = "to_tsvector('english', coalesce(speaker, '') || ' ' || text)"
FTS5_OPTIONS = "tokenize = 'porter unicode61 remove_diacritics 2'"

TURN_OUT = (
    "INSERT INTO turns_fts(turns_fts, rowid, speaker, text) VALUES ('delete', old.id, old.speaker, old.text)"
)
SQLITE_UP = [
    f"CREATE VIRTUAL TABLE turns_fts USING fts5(speaker, text, content='turns', content_rowid='id', "
    f"{FTS5_OPTIONS})",
    "CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns WHEN new.role = 'user' BEGIN "
    "INSERT INTO turns_fts(rowid, speaker, text) VALUES (new.id, new.speaker, new.text); END",
    f"CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns WHEN old.role = 'user' BEGIN {TURN_OUT}; END",
    f"CREATE TRIGGER turns_fts_update AFTER UPDATE OF speaker, text ON turns WHEN old.role = 'user' BEGIN "
    f"{TURN_OUT}; "
    "INSERT INTO turns_fts(rowid, speaker, text) VALUES (new.id, new.speaker, new.text); END",
    "INSERT INTO turns_fts(rowid, speaker, text) SELECT id, speaker, text FROM turns WHERE role = 'user'",
    f"CREATE VIRTUAL TABLE memories_fts USING fts5(speaker, text, content='memories', content_rowid='id', "
    f"{FTS5_OPTIONS})",
    "CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN "
    "INSERT INTO memories_fts(rowid, speaker, text) VALUES (new.id, new.speaker, new.text); END",
    "CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN "
    "INSERT INTO memories_fts(memories_fts, rowid, speaker, text) "
    "VALUES ('delete', old.id, old.speaker, old.text); END",
    "CREATE TRIGGER memories_fts_update AFTER UPDATE OF speaker, text ON memories BEGIN "
    "INSERT INTO memories_fts(memories_fts, rowid, speaker, text) "
    "VALUES ('delete', old.id, old.speaker, old.text); "
    "INSERT INTO memories_fts(rowid, speaker, text) VALUES (new.id, new.speaker, new.text); END",
    "INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS memories_fts_update",
    "DROP TRIGGER IF EXISTS memories_fts_delete",
    "DROP TRIGGER IF EXISTS memories_fts_insert",
    "DROP TABLE IF EXISTS memories_fts",
    "DROP TRIGGER IF EXISTS turns_fts_update",
    "DROP TRIGGER IF EXISTS turns_fts_delete",
    "DROP TRIGGER IF EXISTS turns_fts_insert",
    "DROP TABLE IF EXISTS turns_fts",
]
POSTGRES_UP = [
    f"CREATE INDEX ix_turns_fts ON turns USING gin ({PG_DOCUMENT}) WHERE role = 'user'",
    f"CREATE INDEX ix_memories_fts ON memories USING gin ({PG_DOCUMENT})",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_memories_fts", "DROP INDEX IF EXISTS ix_turns_fts"]


def upgrade() -> None:
    # A channel's turns in order: who spoke there lately, and a recalled turn's neighbours.
    op.create_index("ix_turns_scope", "turns", ["scope_id", "id"])
    for statement in SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP:
        op.execute(sa.text(statement))


def downgrade() -> None:
    for statement in SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN:
        op.execute(sa.text(statement))
    op.drop_index("ix_turns_scope", table_name="turns")
