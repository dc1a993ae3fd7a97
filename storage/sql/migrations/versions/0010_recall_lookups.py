"""Recall's lookups made cheap: a person's turns by place, and stored full-text documents on PostgreSQL.

``ix_turns_scope_user`` (both backends): recall reads the turns either side of its best turns, a person's own
turns in one place ordered by id. With only (scope_id, id) and the person's other indexes, PostgreSQL's
generic plan for that lookup intersected every turn of the place with every turn of the person (300 ms for
a person with 20,000 turns), and a custom plan could walk the primary key back through other places' turns;
with (scope_id, user_id, id) both plans are one short index range.

Full-text documents (PostgreSQL only): ranking (``ts_rank_cd``) needs each match's tsvector. With only an
expression index (0005), PostgreSQL recomputed ``to_tsvector`` from the text for every matching row of every
search: most of a search's time when a common word matches a thousand of someone's memories. A stored
generated column holds the same document, computed once on write (the index already computed it there), and
the GIN indexes move onto it. Person-authored turns only, as before: Kindred's replies get no document and
stay out of the index. SQLite's full text is unchanged (FTS5 keeps its own index). The column lives outside
the ORM models, like the rest of the full-text structures (see storage/recall/lexical.py ``include_name``).
Adding a stored column rewrites both tables under an exclusive lock: on a large deployment the upgrade takes
as long as computing every document once (0.8 s for 10,000 memories on the 2-core VM, index included).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The same document as 0005's expression indexes (and storage/recall/lexical.py DOCUMENT_COLUMN holds it).
PG_DOCUMENT = "to_tsvector('english', coalesce(speaker, '') || ' ' || text)"

POSTGRES_UP = [
    "DROP INDEX IF EXISTS ix_memories_fts",
    f"ALTER TABLE memories ADD COLUMN search_document tsvector GENERATED ALWAYS AS ({PG_DOCUMENT}) STORED",
    "CREATE INDEX ix_memories_fts ON memories USING gin (search_document)",
    "DROP INDEX IF EXISTS ix_turns_fts",
    "ALTER TABLE turns ADD COLUMN search_document tsvector GENERATED ALWAYS AS "
    f"(CASE WHEN role = 'user' THEN {PG_DOCUMENT} END) STORED",
    "CREATE INDEX ix_turns_fts ON turns USING gin (search_document) WHERE role = 'user'",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_turns_fts",
    "ALTER TABLE turns DROP COLUMN IF EXISTS search_document",
    f"CREATE INDEX ix_turns_fts ON turns USING gin ({PG_DOCUMENT}) WHERE role = 'user'",
    "DROP INDEX IF EXISTS ix_memories_fts",
    "ALTER TABLE memories DROP COLUMN IF EXISTS search_document",
    f"CREATE INDEX ix_memories_fts ON memories USING gin ({PG_DOCUMENT})",
]


def upgrade() -> None:
    op.create_index("ix_turns_scope_user", "turns", ["scope_id", "user_id", "id"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_UP:
            op.execute(sa.text(statement))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DOWN:
            op.execute(sa.text(statement))
    op.drop_index("ix_turns_scope_user", table_name="turns")
